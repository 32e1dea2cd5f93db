// The WebAuthn ceremony of the passkey pages: reads the options the server put in
// #webauthnOptions, runs navigator.credentials.create/get and posts the answer as JSON
// (binary fields base64url, as webauthn-rs expects) in the hidden "credential" field.
(function () {
  "use strict";
  var holder = document.getElementById("webauthnOptions");
  var button = document.getElementById("idSIButton9");
  if (!holder || !button) { return; }
  function fromB64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function run() {
    var options = JSON.parse(holder.dataset.options).publicKey;
    options.challenge = fromB64u(options.challenge);
    var ceremony = holder.dataset.ceremony;
    var promise;
    if (ceremony === "create") {
      options.user.id = fromB64u(options.user.id);
      (options.excludeCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
      promise = navigator.credentials.create({ publicKey: options }).then(function (cred) {
        return {
          id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, extensions: {},
          response: {
            attestationObject: toB64u(cred.response.attestationObject),
            clientDataJSON: toB64u(cred.response.clientDataJSON)
          }
        };
      });
    } else {
      (options.allowCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
      promise = navigator.credentials.get({ publicKey: options }).then(function (cred) {
        return {
          id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, extensions: {},
          response: {
            authenticatorData: toB64u(cred.response.authenticatorData),
            clientDataJSON: toB64u(cred.response.clientDataJSON),
            signature: toB64u(cred.response.signature),
            userHandle: cred.response.userHandle ? toB64u(cred.response.userHandle) : null
          }
        };
      });
    }
    promise.then(function (answer) {
      document.getElementById("credential").value = JSON.stringify(answer);
      button.form.submit();
    }).catch(function () {
      document.getElementById("credential").value = "";
      button.form.submit();
    });
  }
  button.addEventListener("click", run);
})();
