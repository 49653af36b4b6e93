// The emergency path (CSP: no inline script). Two jobs:
// 1. The report form's emergency block opens when a designated condition is ticked
//    (the block is always in the page, collapsed, so the form works without this file).
// 2. The hospital desk's arrival alert: when the inbox (it polls) shows a referral newer
//    than the newest seen on this page, a banner shows and, if the user turned the sound
//    on, a beep plays (WebAudio, no sound file). Browsers play sound only after a user
//    gesture on the page: the sound toggle's click is one, and so is any click or key.
"use strict";
(function () {
  if (window.aefiEmergency) return; // included by several fragments: run once
  window.aefiEmergency = true;

  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box || !box.matches || !box.matches("input[data-emergency]")) return;
    var block = document.getElementById("section-emergency");
    if (block && box.checked && !block.open) {
      block.open = true;
      block.scrollIntoView({ block: "nearest" });
    }
  });

  var audio = null;
  function unlock() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }
  function beep() {
    var ctx = unlock();
    if (!ctx) return;
    var t = ctx.currentTime;
    // Three short high tones: heard over a busy emergency room, not mistaken for a monitor.
    for (var i = 0; i < 3; i++) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t + i * 0.35);
      gain.gain.exponentialRampToValueAtTime(0.3, t + i * 0.35 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.35 + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + i * 0.35);
      osc.stop(t + i * 0.35 + 0.3);
    }
    document.documentElement.dataset.deskBeeps = String(Number(document.documentElement.dataset.deskBeeps || 0) + 1);
  }
  ["pointerdown", "keydown"].forEach(function (name) {
    document.addEventListener(name, function () {
      if (document.getElementById("desk-alert")) unlock();
    }, { capture: true });
  });

  var seen = null; // the newest referral id seen on this page
  function check() {
    var results = document.querySelector("[data-newest-referral]");
    var toggle = document.getElementById("desk-alert");
    if (!results || !toggle) return;
    var newest = Number(results.dataset.newestReferral || 0);
    if (seen === null) { seen = newest; return; }
    if (newest > seen) {
      seen = newest;
      var banner = document.getElementById("desk-arrival");
      if (banner) {
        banner.hidden = false;
        var n = banner.querySelector("[data-referral-link]");
        if (n) n.setAttribute("href", "/referrals/" + newest);
      }
      if (toggle.dataset.sound === "on") beep();
    }
  }
  document.addEventListener("DOMContentLoaded", check);
  document.addEventListener("htmx:afterSettle", check);
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-desk-dismiss]");
    if (btn) {
      var banner = document.getElementById("desk-arrival");
      if (banner) banner.hidden = true;
    }
    var sw = e.target.closest && e.target.closest("#desk-alert button");
    if (sw) unlock(); // the gesture that lets the page play sound
  });
  document.addEventListener("aefi:desk-test", beep);
})();
