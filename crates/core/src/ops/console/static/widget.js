// The console as a Matrix widget (Element): asks the client for an OpenID token over the
// widget API (postMessage, matrix-widget-api / MSC1960 `get_openid`), posts it to
// /api/v1/session/openid, and goes where the answer says (the queue).
//
// Messages are taken only from the parent frame and only from an origin the console lets
// frame it (`[console] frame_ancestors`, in the page's data-origins); the first such message
// (the client's `capabilities` request) fixes the parent's origin, and every reply goes to
// exactly that origin, never "*". The token goes only to this console's own origin.
(function () {
  "use strict";
  var root = document.getElementById("widget");
  var status = document.getElementById("widget-status");
  if (!root || !status) {
    return;
  }
  var allowed = (root.getAttribute("data-origins") || "").split(" ").filter(Boolean);
  var query = new URLSearchParams(window.location.search);
  var widgetId = query.get("widgetId");
  // The room Element shows the widget in ($matrix_room_id in the widget's URL): the bridge
  // reads the person's power level there, as for !weblogin typed in that room.
  var room = query.get("room");
  var parentOrigin = null;
  var asked = false;
  var done = false;

  function say(text) {
    status.textContent = text;
  }

  function post(message) {
    window.parent.postMessage(message, parentOrigin);
  }

  // A toWidget request is answered by sending it back with a `response`.
  function reply(request, response) {
    var answer = {};
    Object.keys(request).forEach(function (k) {
      answer[k] = request[k];
    });
    answer.response = response;
    post(answer);
  }

  function askForToken() {
    if (asked) {
      return;
    }
    asked = true;
    post({
      api: "fromWidget",
      widgetId: widgetId,
      requestId: "civicbridge-openid-" + Date.now(),
      action: "get_openid",
      data: {}
    });
  }

  function signIn(c) {
    if (done) {
      return;
    }
    done = true;
    say("Signing you in…");
    var token = {
      access_token: c.access_token,
      token_type: c.token_type,
      matrix_server_name: c.matrix_server_name,
      expires_in: c.expires_in
    };
    var path = "/api/v1/session/openid" + (room ? "?room=" + encodeURIComponent(room) : "");
    fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(token)
    })
      .then(function (r) {
        return r.json().then(function (body) {
          return { ok: r.ok, body: body };
        });
      })
      .then(function (r) {
        var to = r.body && r.body.location;
        // Only a console page: the answer is ours, but a path is all it may name.
        if (r.ok && typeof to === "string" && to.indexOf("/console/") === 0) {
          window.location.assign(to);
        } else {
          say((r.body && r.body.error) || "The bridge refused the sign-in.");
        }
      })
      .catch(function () {
        say("The bridge could not be reached; reload the widget to try again.");
      });
  }

  function credentials(c) {
    if (!c || typeof c !== "object") {
      return;
    }
    if (c.state === "allowed") {
      signIn(c);
    } else if (c.state === "blocked") {
      say("Element did not let the console know who you are, so it cannot sign you in.");
    } else {
      // "request": Element asks you first; the answer comes as `openid_credentials`.
      say("Allow the console, in Element, to know who you are.");
    }
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || allowed.indexOf(event.origin) < 0) {
      return;
    }
    if (parentOrigin !== null && event.origin !== parentOrigin) {
      return;
    }
    var m = event.data;
    if (!m || typeof m !== "object" || typeof m.action !== "string") {
      return;
    }
    if (widgetId !== null && m.widgetId !== widgetId) {
      return;
    }
    if (parentOrigin === null) {
      parentOrigin = event.origin;
      widgetId = m.widgetId;
    }
    if (m.api === "toWidget" && m.response === undefined) {
      if (m.action === "capabilities") {
        // The console needs no capability: get_openid is always allowed to ask.
        reply(m, { capabilities: [] });
        askForToken();
      } else if (m.action === "supported_api_versions") {
        reply(m, { supported_versions: ["0.0.1", "0.0.2"] });
      } else if (m.action === "openid_credentials") {
        reply(m, {});
        credentials(m.data);
      } else {
        reply(m, {});
      }
    } else if (m.api === "fromWidget" && m.action === "get_openid" && m.response) {
      credentials(m.response);
    }
  });

  if (allowed.length === 0) {
    say("This bridge does not let Element embed the console ([console] frame_ancestors).");
  }
})();
