// Measures a page as a person would see it (tests/browser/test_responsive_browser.py):
// what sticks out sideways, what is squeezed to a character per line, and, on a phone,
// a header that takes the screen and targets too small for a finger. Returns findings.
({ phone, touchMin, headerMax }) => {
  const out = [];
  const de = document.documentElement;
  if (de.scrollWidth > window.innerWidth) {
    // Name the first offenders so a failure says where to look.
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > window.innerWidth + 1;
      })
      .slice(0, 3)
      .map((e) => e.tagName.toLowerCase() + "." + [...e.classList].join("."));
    out.push(`scrolls sideways: ${de.scrollWidth} > ${window.innerWidth} (${wide.join(", ")})`);
  }
  const shown = (e) => {
    if (e.closest(".sr-only, [hidden], details:not([open]) > :not(summary)")) return false;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden") return false;
    // Inside something visually hidden: a clipped box one pixel wide, as a stacked table's
    // headings are on a phone.
    for (let a = e.parentElement; a; a = a.parentElement) {
      const ar = a.getBoundingClientRect();
      if (ar.width <= 1 || ar.height <= 1) return false;
    }
    return true;
  };
  const label = (e) => `${e.tagName.toLowerCase()} "${e.innerText.trim().slice(0, 30)}"`;
  const texts = "main button, main a, main th, main td, main label, main .status, " +
    "header.top a, header.top button";
  for (const e of document.querySelectorAll(texts)) {
    if (!shown(e)) continue;
    const text = e.innerText.trim();
    if ([...text].length < 3) continue;
    const fs = parseFloat(getComputedStyle(e).fontSize);
    const r = e.getBoundingClientRect();
    // Narrower than two characters and on two lines or more: a character (or two) a line.
    if (r.width < 2 * fs && r.height >= 2 * fs * 1.2) {
      out.push(`one character per line: ${label(e)} ${Math.round(r.width)}px wide`);
    }
  }
  // A code (a report, lot or halt number: no spaces, with a digit) broken over two lines.
  const code = /^(?=.*\d)[A-Za-z0-9\-_/.〔〕号叫停解除]{6,}$/;
  for (const e of document.querySelectorAll("main a, main strong, main td, main dd, main span, main h1")) {
    if (e.children.length || !shown(e)) continue;
    const text = e.textContent.trim();
    if (!code.test(text)) continue;
    const range = document.createRange();
    range.selectNodeContents(e);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (tops.size > 1) out.push(`code broken over lines: ${label(e)}`);
  }
  if (phone) {
    const h = document.querySelector("header.top").getBoundingClientRect().height;
    if (h > headerMax) out.push(`header ${Math.round(h)}px tall`);
    const targets = "header.top button, header.top a, header.top summary, " +
      "main form button, main form select, main form summary, " +
      "main form input:not([type=hidden]):not([type=checkbox]):not([type=radio]), " +
      "main .button, main button, .pager a, .main-nav a";
    for (const e of document.querySelectorAll(targets)) {
      if (!shown(e)) continue;
      const r = e.getBoundingClientRect();
      if (r.height < touchMin - 0.5) {
        out.push(`small target: ${label(e)} ${Math.round(r.height)}px tall`);
      }
    }
  }
  return out;
}
