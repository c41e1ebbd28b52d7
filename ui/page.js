// The page's own behaviour, on top of what Gradio renders (ui/layout.py loads this file into the
// page's <head>). Each part works on elements the Chatbot adds later, through one listener on the
// document, and the page still works without it: a [n] link then opens the document in a new tab.
//
// - Citation popovers: hovering or focusing [n] shows its quote, title and publisher (CSS); on a
//   touch screen the first tap shows it and the second opens the document.
// - The side panel: [n] and "view in document" open the document view beside the chat, scrolled to
//   the highlighted span; Escape or the close button closes it and gives focus back to the link.
// - The newest answer's start stays in view: when a question is sent, its message is scrolled to
//   the top of the chat; the answer then grows below it without moving it.
// - The question box counts its characters against the limit (no silent cut).
// - Enter while an answer streams: the box says the question waits its turn.
// - On a phone the conversations sidebar starts folded away.
(() => {
  if (window.qaPage) return;
  window.qaPage = true;
  const touch = window.matchMedia("(hover: none)").matches;
  let opener = null;

  function panel() {
    let aside = document.getElementById("qa-doc-panel");
    if (aside) return aside;
    aside = document.createElement("aside");
    aside.id = "qa-doc-panel";
    aside.setAttribute("role", "dialog");
    aside.setAttribute("aria-label", "Document");
    aside.hidden = true;
    aside.innerHTML =
      '<div class="qa-panel-bar"><span class="qa-panel-title">Document</span>' +
      '<a class="qa-panel-tab" target="_blank" rel="noopener noreferrer">open in a tab</a>' +
      '<button type="button" class="qa-panel-close" aria-label="Close the document">×</button></div>' +
      '<iframe class="qa-panel-frame" title="Document"></iframe>';
    aside.querySelector(".qa-panel-close").addEventListener("click", closePanel);
    document.body.appendChild(aside);
    return aside;
  }

  function openPanel(link) {
    const aside = panel();
    opener = link;
    aside.querySelector(".qa-panel-frame").src = link.getAttribute("href");
    aside.querySelector(".qa-panel-tab").href = link.getAttribute("href");
    aside.hidden = false;
    document.body.classList.add("qa-panel-open");
    aside.querySelector(".qa-panel-close").focus();
  }

  function closePanel() {
    const aside = document.getElementById("qa-doc-panel");
    if (!aside || aside.hidden) return;
    aside.hidden = true;
    document.body.classList.remove("qa-panel-open");
    if (opener) opener.focus();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.qa-cite, a.qa-doc-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    if (touch && link.classList.contains("qa-cite") && !link.classList.contains("qa-pop-shown")) {
      document.querySelectorAll(".qa-pop-shown").forEach((other) => other.classList.remove("qa-pop-shown"));
      link.classList.add("qa-pop-shown"); // first tap: the popover; the second opens the document
      event.preventDefault();
      return;
    }
    event.preventDefault();
    link.classList.remove("qa-pop-shown");
    openPanel(link);
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanel();
    const box = event.target.closest && event.target.closest("#question textarea");
    const stop = document.getElementById("stop");
    const streaming = stop && stop.offsetParent !== null; // Stop is shown while an answer is written
    if (box && event.key === "Enter" && !event.shiftKey && streaming) {
      box.closest("#question").classList.add("qa-queued"); // sent when the current answer ends
    }
  });

  function counter() {
    const box = document.querySelector("#question textarea");
    const shown = document.getElementById("qa-count");
    if (!box || !shown) return;
    const limit = Number(shown.dataset.limit);
    const text = `${box.value.length.toLocaleString("en")} / ${limit.toLocaleString("en")}`;
    if (shown.textContent !== text) shown.textContent = text; // (a change is a mutation: no loop)
    const over = box.value.length > limit;
    if (shown.classList.contains("qa-over") !== over) shown.classList.toggle("qa-over", over);
    if (!box.value) box.closest("#question").classList.remove("qa-queued");
  }
  document.addEventListener("input", counter);
  document.addEventListener("focusin", counter); // and after an update emptied the box

  let users = 0;
  let folded = false;
  const narrow = window.matchMedia("(max-width: 700px)").matches;
  const watch = new MutationObserver(() => {
    const sidebar = document.querySelector(".sidebar.open");
    const toggle = sidebar && sidebar.querySelector(".toggle-button");
    if (narrow && !folded && toggle) {
      folded = true; // on a phone the conversations start folded away: the chat comes first
      setTimeout(() => toggle.click(), 0);
    }
    const chat = document.getElementById("chat");
    if (!chat) return;
    const rows = chat.querySelectorAll(".message-row.user-row, .user-row");
    if (rows.length > users) {
      rows[rows.length - 1].scrollIntoView({ block: "start" }); // the answer grows below it
      const queued = document.querySelector("#question.qa-queued");
      if (queued) queued.classList.remove("qa-queued"); // the waiting question went out
    }
    users = rows.length;
  });
  const start = () => watch.observe(document.body, { childList: true, subtree: true });
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
