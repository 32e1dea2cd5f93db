// The sign-out page: once every front-channel logout iframe has loaded (or after 3 s), on to the
// app's post-logout redirect URI. External, so the page's CSP needs no 'unsafe-inline'.
(function () {
  "use strict";
  var link = document.getElementById("post-logout-redirect");
  if (!link) { return; }
  var frames = document.querySelectorAll("iframe.frontchannel");
  var pending = frames.length, done = false;
  function go() { if (!done) { done = true; window.location.replace(link.href); } }
  if (pending === 0) { go(); return; }
  frames.forEach(function (f) { f.addEventListener("load", function () { if (--pending === 0) { go(); } }); });
  setTimeout(go, 3000);
})();
