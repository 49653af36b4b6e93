// Runs before the page is drawn (not deferred): marks that scripts run, so the phone's
// header can start with its menu collapsed behind the menu button (aefi.js opens it).
// Without scripts the header shows every link.
document.documentElement.classList.add("js");
