// The Threadline console: a small GraphQL client served by the gateway itself, so the
// playground works with no network but the gateway's. Written for this project; no
// third-party code. Everything the server sends is shown with textContent, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const store = {
    get(key, fallback) {
      try {
        const value = localStorage.getItem("threadline." + key);
        return value === null ? fallback : JSON.parse(value);
      } catch (_) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem("threadline." + key, JSON.stringify(value));
      } catch (_) {
        /* storage full or disabled: the console still works */
      }
    },
  };
  const MAX_HISTORY = 50;
  const GRAPHIQL_WAIT_MS = 2000;
  const CDN = "https://unpkg.com";
  // GraphiQL's files at exact versions, each with the hash of its bytes (Subresource
  // Integrity, computed from the packages on npm): the page holds the caller's token and the
  // gateway's origin, so a CDN serving anything else must not run it. To upgrade, change a
  // version and its hash together (`openssl dgst -sha384 -binary FILE | base64`).
  const GRAPHIQL_CSS = {
    href: CDN + "/graphiql@4.1.2/graphiql.min.css",
    integrity: "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
  };
  const GRAPHIQL_SCRIPTS = [
    {
      src: CDN + "/react@18.3.1/umd/react.production.min.js",
      integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    },
    {
      src: CDN + "/react-dom@18.3.1/umd/react-dom.production.min.js",
      integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    },
    {
      src: CDN + "/graphiql@4.1.2/graphiql.min.js",
      integrity: "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
    },
  ];

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  // ---------------------------------------------------------------- GraphiQL (auto mode)

  function loadScript({ src, integrity }) {
    return new Promise((resolve, reject) => {
      const script = el("script", { src, integrity, crossOrigin: "anonymous" });
      script.onload = resolve;
      script.onerror = () => reject(new Error("could not load " + src));
      document.head.append(script);
    });
  }

  function wsUrl() {
    const url = new URL("/graphql", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  async function tryGraphiQL() {
    const loading = (async () => {
      document.head.append(el("link", { rel: "stylesheet", crossOrigin: "anonymous", ...GRAPHIQL_CSS }));
      for (const script of GRAPHIQL_SCRIPTS) {
        await loadScript(script);
      }
      if (!window.GraphiQL || !window.React || !window.ReactDOM) {
        throw new Error("GraphiQL did not start");
      }
    })();
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error("GraphiQL took too long")), GRAPHIQL_WAIT_MS)
    );
    await Promise.race([loading, timeout]);
    const root = $("graphiql");
    root.hidden = false;
    window.ReactDOM.createRoot(root).render(
      window.React.createElement(window.GraphiQL, {
        fetcher: window.GraphiQL.createFetcher({
          url: new URL("/graphql", window.location.href).toString(),
          subscriptionUrl: wsUrl(),
        }),
        defaultEditorToolsVisibility: true,
      })
    );
  }

  // ---------------------------------------------------------------- the console

  const docEl = () => $("document");
  const varsEl = () => $("variables");
  const headersEl = () => $("headers");
  let socket = null;

  function setStatus(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.className = kind || "muted";
  }

  function show(value) {
    $("response").textContent =
      typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  /** The named operations of a document, with their kind, in order. */
  function operations(text) {
    const found = [];
    const re = /(^|[\s}])(query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g;
    const stripped = text.replace(/#[^\n]*/g, "").replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"/g, '""');
    let match;
    while ((match = re.exec(stripped)) !== null) {
      found.push({ kind: match[2], name: match[3] });
    }
    if (found.length === 0 && /^\s*subscription\b/.test(stripped)) {
      found.push({ kind: "subscription", name: null });
    }
    return found;
  }

  function refreshPicker() {
    const ops = operations(docEl().value);
    const picker = $("operation");
    const previous = picker.value;
    picker.replaceChildren(
      ...ops.filter((o) => o.name).map((o) => el("option", { value: o.name, textContent: o.kind + " " + o.name }))
    );
    picker.hidden = ops.filter((o) => o.name).length < 2;
    if (ops.some((o) => o.name === previous)) {
      picker.value = previous;
    }
  }

  function chosen() {
    const ops = operations(docEl().value);
    const picker = $("operation");
    if (!picker.hidden && picker.value) {
      return ops.find((o) => o.name === picker.value) || ops[0] || { kind: "query", name: null };
    }
    return ops[0] || { kind: "query", name: null };
  }

  function parseJson(text, what) {
    if (!text.trim()) {
      return {};
    }
    try {
      const value = JSON.parse(text);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error("not an object");
      }
      return value;
    } catch (error) {
      throw new Error(what + " must be a JSON object: " + error.message);
    }
  }

  function headers() {
    const extra = parseJson(headersEl().value, "Headers");
    const token = $("token").value.trim();
    if (token && !Object.keys(extra).some((k) => k.toLowerCase() === "authorization")) {
      extra.Authorization = token.toLowerCase().startsWith("bearer ") ? token : "Bearer " + token;
    }
    return extra;
  }

  /** The stored history, or none when what is stored is not a list (edited by hand, say). */
  function historyList() {
    const list = store.get("history", []);
    return Array.isArray(list) ? list.filter((h) => h && typeof h.document === "string") : [];
  }

  function remember(entry) {
    const history = historyList().filter(
      (h) => h.document !== entry.document || h.variables !== entry.variables
    );
    history.unshift(entry);
    store.set("history", history.slice(0, MAX_HISTORY));
    renderHistory();
  }

  function stopSubscription(reason) {
    if (socket) {
      const open = socket;
      socket = null;
      try {
        if (open.readyState === WebSocket.OPEN) {
          open.send(JSON.stringify({ id: "1", type: "complete" }));
        }
        open.close(1000, reason || "stopped");
      } catch (_) {
        /* already closed */
      }
    }
    $("stop").hidden = true;
  }

  async function run(retried) {
    stopSubscription();
    // The console's own session is renewed before a request that would carry an expired token.
    if (session && usesSessionToken() && Date.parse(session.expiresAt) <= Date.now()) {
      await refreshSession();
    }
    let variables;
    let sendHeaders;
    try {
      variables = parseJson(varsEl().value, "Variables");
      sendHeaders = headers();
    } catch (error) {
      setStatus(error.message, "error");
      return;
    }
    const document = docEl().value;
    const operation = chosen();
    const body = { query: document, variables };
    if (operation.name) {
      body.operationName = operation.name;
    }
    remember({ document, variables: varsEl().value, at: new Date().toISOString(), name: operation.name });
    if (operation.kind === "subscription") {
      subscribe(body, sendHeaders);
      return;
    }
    setStatus("Running…");
    const started = performance.now();
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: Object.assign(
          { "Content-Type": "application/json", Accept: "application/graphql-response+json, application/json" },
          sendHeaders
        ),
        body: JSON.stringify(body),
      });
      const elapsed = Math.round(performance.now() - started);
      const text = await response.text();
      let shown = text;
      try {
        shown = JSON.parse(text);
      } catch (_) {
        /* not JSON: shown as it came */
      }
      const failed = !response.ok || (shown && shown.errors);
      // Sent with the console's session token and refused as unauthenticated (the token
      // expired while the tab slept, say): renew the session once and run again.
      const refused =
        shown && Array.isArray(shown.errors) && shown.errors.some((e) => e && e.extensions && e.extensions.code === "UNAUTHENTICATED");
      const sentSessionToken = session && sendHeaders.Authorization === bearer(session.accessToken);
      if (refused && sentSessionToken && !retried && (await refreshSession())) {
        return run(true);
      }
      setStatus(response.status + " " + response.statusText + " · " + elapsed + " ms", failed ? "error" : "ok");
      show(shown);
    } catch (error) {
      setStatus("The request failed: " + error.message, "error");
    }
  }

  function subscribe(body, sendHeaders) {
    const events = [];
    const started = performance.now();
    const ws = new WebSocket(wsUrl(), "graphql-transport-ws");
    socket = ws;
    $("stop").hidden = false;
    show("");
    setStatus("Connecting…");
    const initPayload = {};
    for (const [key, value] of Object.entries(sendHeaders)) {
      initPayload[key.toLowerCase() === "authorization" ? "authorization" : key] = value;
    }
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: initPayload }));
    ws.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (data.type === "connection_ack") {
        setStatus("Subscribed · waiting for events", "ok");
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: body }));
      } else if (data.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (data.type === "next") {
        const at = Math.round(performance.now() - started);
        events.unshift({ at: new Date().toISOString(), afterMs: at, payload: data.payload });
        setStatus("Subscribed · " + events.length + " event(s)", "ok");
        show(events.map((e) => "// " + e.at + "\n" + JSON.stringify(e.payload, null, 2)).join("\n\n"));
      } else if (data.type === "error") {
        setStatus("The subscription failed", "error");
        show(data.payload);
      } else if (data.type === "complete") {
        setStatus("The subscription completed (" + events.length + " event(s))", "ok");
        stopSubscription();
      }
    };
    ws.onclose = (close) => {
      if (socket === ws) {
        socket = null;
        $("stop").hidden = true;
        setStatus("Closed: " + close.code + (close.reason ? " " + close.reason : ""), close.code === 1000 ? "ok" : "error");
      }
    };
  }

  // ---------------------------------------------------------------- sign-in

  // The console's own sign-in session: signed in with the demo picker, kept in localStorage
  // (so a reload keeps it), its access token in the Headers pane, renewed with refreshSession
  // a little before it expires. The server offers the picker (`/console/demo.json`) only on a
  // loopback listener with the demo organization; sign-out works whenever a session exists.
  const SESSION_FIELDS = "accessToken refreshToken expiresAt user { name email role }";
  const SIGN_IN = "mutation ConsoleSignIn($email: String!, $password: String!) {\n  signIn(email: $email, password: $password) { " + SESSION_FIELDS + " }\n}";
  const REFRESH = "mutation ConsoleRefresh($refreshToken: String!) {\n  refreshSession(refreshToken: $refreshToken) { " + SESSION_FIELDS + " }\n}";
  const SIGN_OUT = "mutation ConsoleSignOut($refreshToken: String!) {\n  signOut(refreshToken: $refreshToken)\n}";
  /** How long before the access token expires it is renewed (at most a fifth of its life). */
  const REFRESH_LEAD_MS = 60000;
  let demo = null;
  let session = null;
  let refreshTimer = null;

  const bearer = (token) => "Bearer " + token;

  function validSession(value) {
    return value && typeof value.accessToken === "string" && typeof value.refreshToken === "string" && value.user ? value : null;
  }

  function signInMessage(text, kind) {
    const message = $("signin-message");
    message.textContent = text || "";
    message.className = kind || "muted";
    message.hidden = !text;
  }

  /** The server's errors, each with its code: shown as they are, never hidden. */
  function errorText(body) {
    return (body && Array.isArray(body.errors) ? body.errors : [])
      .map((e) => e.message + (e.extensions && e.extensions.code ? " (" + e.extensions.code + ")" : ""))
      .join("; ");
  }

  /** Sends one of the console's own operations (not kept in the history). */
  async function post(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    try {
      return { response, body: JSON.parse(text) };
    } catch (_) {
      throw new Error(response.status + " " + response.statusText + ": " + text.slice(0, 200));
    }
  }

  /** The Authorization header of the Headers pane, if any (undefined when it is not JSON). */
  function paneAuthorization() {
    try {
      const extra = parseJson(headersEl().value, "Headers");
      const key = Object.keys(extra).find((k) => k.toLowerCase() === "authorization");
      return key ? extra[key] : null;
    } catch (_) {
      return undefined;
    }
  }

  function usesSessionToken() {
    return session && paneAuthorization() === bearer(session.accessToken);
  }

  /** Puts `token` in the Headers pane's Authorization header (none: removes it). */
  function writeAuthorization(token) {
    const extra = parseJson(headersEl().value, "Headers");
    for (const key of Object.keys(extra)) {
      if (key.toLowerCase() === "authorization") {
        delete extra[key];
      }
    }
    if (token) {
      extra.Authorization = bearer(token);
    }
    headersEl().value = Object.keys(extra).length ? JSON.stringify(extra, null, 2) + "\n" : "";
    store.set("headers", headersEl().value);
  }

  /** Takes `next` as the console's session; its token replaces the previous one in Headers
   * when that was there (or always, for a new sign-in). */
  function adopt(next, signedIn) {
    const previous = session;
    if (signedIn || (previous && paneAuthorization() === bearer(previous.accessToken))) {
      writeAuthorization(next.accessToken);
    }
    session = next;
    store.set("session", next);
    scheduleRefresh();
    renderSignIn();
  }

  /** Forgets the session here (the server's end is `signOut`'s business). */
  function forget() {
    const ending = session;
    session = null;
    store.set("session", null);
    clearTimeout(refreshTimer);
    if (ending && paneAuthorization() === bearer(ending.accessToken)) {
      writeAuthorization(null);
    }
    renderSignIn();
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (!session) {
      return;
    }
    const left = Date.parse(session.expiresAt) - Date.now();
    const lead = Math.min(REFRESH_LEAD_MS, Math.max(0, left) / 5);
    const wait = Math.min(Math.max(0, left - lead), 2147483647);
    refreshTimer = setTimeout(() => refreshSession(), wait);
  }

  /** Renews the session with refreshSession; true when it was renewed. Tabs take turns (a
   * refresh token works once: two tabs refreshing with the same one would end the session). */
  async function refreshSession() {
    const work = async () => {
      if (!session) {
        return false;
      }
      const stored = validSession(store.get("session", null));
      if (stored && stored.refreshToken !== session.refreshToken) {
        // Another tab renewed it (or signed in again) meanwhile: take its tokens.
        adopt(stored, false);
        return true;
      }
      try {
        const { response, body } = await post(REFRESH, { refreshToken: session.refreshToken });
        const renewed = body && body.data && body.data.refreshSession;
        if (!renewed) {
          const why = errorText(body) || response.status + " " + response.statusText;
          forget();
          signInMessage("The session could not be renewed: " + why, "error");
          return false;
        }
        adopt(renewed, false);
        return true;
      } catch (error) {
        signInMessage("The session could not be renewed: " + error.message, "error");
        return false;
      }
    };
    return navigator.locks ? navigator.locks.request("threadline.session", work) : work();
  }

  async function signInAs(user) {
    try {
      parseJson(headersEl().value, "Headers");
    } catch (error) {
      signInMessage(error.message + " (the access token goes there)", "error");
      return;
    }
    if (session) {
      await signOut();
    }
    signInMessage("Signing in as " + user.email + "…");
    try {
      const { response, body } = await post(SIGN_IN, { email: user.email, password: demo.password });
      const signed = body && body.data && body.data.signIn;
      if (!signed) {
        const why = errorText(body) || response.status + " " + response.statusText;
        signInMessage("Signing in as " + user.email + " failed: " + why, "error");
        setStatus("signIn failed: " + why, "error");
        show(body);
        return;
      }
      adopt(signed, true);
      signInMessage("");
      setStatus("Signed in as " + signed.user.email + "; the access token is in Headers.", "ok");
    } catch (error) {
      signInMessage("Signing in as " + user.email + " failed: " + error.message, "error");
    }
  }

  async function signOut() {
    const ending = session;
    if (!ending) {
      return;
    }
    let why = "";
    try {
      const { response, body } = await post(SIGN_OUT, { refreshToken: ending.refreshToken });
      if (!body || !body.data) {
        why = errorText(body) || response.status + " " + response.statusText;
      }
    } catch (error) {
      why = error.message;
    }
    forget();
    if (why) {
      signInMessage("Signing out failed: " + why, "error");
    } else {
      signInMessage("Signed out of " + ending.user.email + ".");
    }
  }

  /** Greys the Token field out while the Headers pane's Authorization header replaces it. */
  function markToken() {
    const replaced = Boolean(paneAuthorization());
    $("token").classList.toggle("overridden", replaced);
    $("token").title = replaced ? "Not sent: the Headers pane has an Authorization header" : "";
  }

  function renderSignIn() {
    markToken();
    $("signin").hidden = !demo && !session;
    $("session").hidden = !session;
    if (session) {
      $("who-name").textContent = session.user.name;
      $("who-detail").textContent = session.user.email + " · " + (session.user.role || "");
      $("renews").textContent = "Access token valid until " + new Date(session.expiresAt).toLocaleTimeString() + ", renewed before";
    }
    $("demo-users").hidden = !demo;
    if (demo) {
      $("demo-password").textContent = demo.password;
      $("demo-list").replaceChildren(
        ...demo.users.map((user) => {
          const button = el("button", { className: "item", title: "Sign in as " + user.email, onclick: () => signInAs(user) }, [
            user.name,
            el("small", { textContent: user.email }),
            el("small", { textContent: user.role }),
          ]);
          button.dataset.email = user.email;
          if (session && session.user.email === user.email) {
            button.classList.add("current");
          }
          return button;
        })
      );
    }
  }

  async function startSignIn() {
    $("signout").addEventListener("click", () => signOut());
    // A session kept from an earlier visit is renewed on the same schedule (at once when its
    // access token has expired meanwhile).
    session = validSession(store.get("session", null));
    scheduleRefresh();
    try {
      // 404 unless the server listens on loopback and has the demo users (see demo.rs).
      const response = await fetch("/console/demo.json", { cache: "no-store" });
      const offer = response.ok ? await response.json() : null;
      demo = offer && Array.isArray(offer.users) && offer.users.length ? offer : null;
    } catch (_) {
      demo = null;
    }
    renderSignIn();
  }

  // ---------------------------------------------------------------- prettify

  function prettify() {
    const text = docEl().value;
    let out = "";
    let depth = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"' && text[i - 1] !== "\\") {
        inString = !inString;
      }
      if (inString) {
        out += c;
        continue;
      }
      if (c === "{") {
        depth++;
        out = out.trimEnd() + " {\n" + "  ".repeat(depth);
      } else if (c === "}") {
        depth = Math.max(0, depth - 1);
        out = out.trimEnd() + "\n" + "  ".repeat(depth) + "}\n" + "  ".repeat(depth);
      } else if (c === "\n" || c === "\r") {
        out = out.trimEnd() + "\n" + "  ".repeat(depth);
      } else if (c === " " && /\s$/.test(out)) {
        continue;
      } else {
        out += c;
      }
    }
    docEl().value = out.replace(/\n\s*\n/g, "\n").trim() + "\n";
  }

  // ---------------------------------------------------------------- side panes

  function load(entry) {
    docEl().value = entry.document || "";
    varsEl().value = entry.variables || "";
    refreshPicker();
    if (entry.name) {
      $("operation").value = entry.name;
    }
    docEl().focus();
  }

  function renderHistory() {
    const pane = $("history");
    const history = historyList();
    if (history.length === 0) {
      pane.replaceChildren(el("p", { className: "muted", textContent: "Operations you run are kept here (in this browser)." }));
      return;
    }
    pane.replaceChildren(
      ...history.map((h) =>
        el("button", { className: "item", onclick: () => load(h) }, [
          h.name || h.document.trim().split("\n")[0].slice(0, 40),
          el("small", { textContent: new Date(h.at).toLocaleString() }),
        ])
      ),
      el("button", {
        textContent: "Clear history",
        onclick: () => {
          store.set("history", []);
          renderHistory();
        },
      })
    );
  }

  async function renderExamples() {
    const pane = $("examples");
    try {
      const examples = await (await fetch("/console/examples.json")).json();
      pane.replaceChildren(
        ...examples.map((e) =>
          el("button", { className: "item", onclick: () => load(e) }, [
            e.title,
            el("small", { textContent: e.name ? e.kind + " " + e.name : e.kind }),
          ])
        )
      );
    } catch (error) {
      pane.replaceChildren(el("p", { className: "muted", textContent: "No examples: " + error.message }));
    }
  }

  const INTROSPECTION = `query IntrospectionQuery {
    __schema {
      queryType { name } mutationType { name } subscriptionType { name }
      types { kind name description
        fields(includeDeprecated: true) { name description args { name description type { ...T } defaultValue } type { ...T } }
        inputFields { name description type { ...T } defaultValue }
        enumValues(includeDeprecated: true) { name description }
        possibleTypes { name }
      }
    }
  }
  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`;

  let schemaTypes = [];
  let roots = [];

  function typeName(t) {
    if (!t) return "";
    if (t.kind === "NON_NULL") return typeName(t.ofType) + "!";
    if (t.kind === "LIST") return "[" + typeName(t.ofType) + "]";
    return t.name;
  }

  function namedType(t) {
    while (t && t.ofType) t = t.ofType;
    return t && t.name;
  }

  function typeLink(t) {
    const name = namedType(t);
    return el("a", { textContent: typeName(t), onclick: () => showType(name) });
  }

  function showType(name) {
    const type = schemaTypes.find((t) => t.name === name);
    const body = $("schema-body");
    if (!type) {
      return;
    }
    const parts = [
      el("a", { textContent: "← all types", onclick: () => renderSchema("") }),
      el("h3", { textContent: type.kind.toLowerCase() + " " + type.name }),
    ];
    if (type.description) parts.push(el("div", { className: "desc", textContent: type.description }));
    for (const f of type.fields || type.inputFields || []) {
      const line = el("div", { className: "field" }, [el("b", { textContent: f.name })]);
      if (f.args && f.args.length) {
        line.append("(");
        f.args.forEach((a, i) => {
          line.append((i ? ", " : "") + a.name + ": ", typeLink(a.type));
        });
        line.append(")");
      }
      line.append(": ", typeLink(f.type));
      if (f.description) line.append(el("div", { className: "desc", textContent: f.description }));
      parts.push(line);
    }
    for (const v of type.enumValues || []) {
      parts.push(el("div", { className: "field" }, [el("b", { textContent: v.name }), v.description ? el("div", { className: "desc", textContent: v.description }) : ""]));
    }
    for (const p of type.possibleTypes || []) {
      parts.push(el("div", { className: "field" }, [el("a", { textContent: p.name, onclick: () => showType(p.name) })]));
    }
    body.replaceChildren(...parts);
  }

  function renderSchema(filter) {
    const body = $("schema-body");
    const needle = filter.trim().toLowerCase();
    const visible = schemaTypes.filter((t) => !t.name.startsWith("__"));
    if (!needle) {
      const list = [...roots, ...visible.filter((t) => !roots.includes(t)).sort((a, b) => a.name.localeCompare(b.name))];
      body.replaceChildren(...list.map((t) => el("div", {}, [el("a", { textContent: t.name, onclick: () => showType(t.name) }), " ", el("span", { className: "muted", textContent: t.kind.toLowerCase() })])));
      return;
    }
    const hits = [];
    for (const t of visible) {
      if (t.name.toLowerCase().includes(needle)) hits.push(el("div", {}, [el("a", { textContent: t.name, onclick: () => showType(t.name) })]));
      for (const f of t.fields || t.inputFields || []) {
        if (f.name.toLowerCase().includes(needle) || (f.description || "").toLowerCase().includes(needle)) {
          hits.push(el("div", {}, [el("a", { textContent: t.name + "." + f.name, onclick: () => showType(t.name) }), ": ", typeName(f.type)]));
        }
      }
    }
    body.replaceChildren(...(hits.length ? hits : [el("p", { className: "muted", textContent: "Nothing matches." })]));
  }

  async function loadSchema() {
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query: INTROSPECTION }),
      });
      const result = await response.json();
      const schema = result.data.__schema;
      schemaTypes = schema.types;
      roots = [schema.queryType, schema.mutationType, schema.subscriptionType]
        .filter(Boolean)
        .map((r) => schemaTypes.find((t) => t.name === r.name))
        .filter(Boolean);
      renderSchema($("schema-search").value);
    } catch (error) {
      $("schema-body").replaceChildren(el("p", { className: "muted", textContent: "The schema could not be read: " + error.message }));
    }
  }

  // ---------------------------------------------------------------- start

  function startConsole() {
    $("console").hidden = false;
    $("token").value = store.get("token", "");
    $("token").addEventListener("input", () => store.set("token", $("token").value.trim()));
    headersEl().value = store.get("headers", "");
    headersEl().addEventListener("input", () => {
      store.set("headers", headersEl().value);
      markToken();
    });
    docEl().value = store.get("document", "query Me {\n  me { id name email role }\n}\n");
    varsEl().value = store.get("variables", "");
    docEl().addEventListener("input", () => {
      store.set("document", docEl().value);
      refreshPicker();
    });
    varsEl().addEventListener("input", () => store.set("variables", varsEl().value));
    for (const area of [docEl(), varsEl(), headersEl()]) {
      area.addEventListener("keydown", (event) => {
        if (event.key === "Tab" && !event.shiftKey) {
          event.preventDefault();
          area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
        }
      });
    }
    document.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run();
      }
    });
    $("run").addEventListener("click", () => run());
    $("stop").addEventListener("click", () => stopSubscription("stopped"));
    $("prettify").addEventListener("click", prettify);
    $("schema-search").addEventListener("input", (e) => renderSchema(e.target.value));
    for (const tab of document.querySelectorAll(".tabs button")) {
      tab.addEventListener("click", () => {
        for (const other of document.querySelectorAll(".tabs button")) other.classList.remove("active");
        for (const pane of document.querySelectorAll(".pane")) pane.classList.remove("active");
        tab.classList.add("active");
        $(tab.dataset.tab).classList.add("active");
      });
    }
    refreshPicker();
    renderHistory();
    renderExamples();
    startSignIn();
    loadSchema();
    document.body.dataset.ready = "console";
  }

  async function start() {
    const mode = document.body.dataset.mode;
    // `/?console=builtin` opens the built-in console (and its demo sign-in) in auto mode too.
    const builtinAsked = new URLSearchParams(window.location.search).get("console") === "builtin";
    if (mode === "auto" && !builtinAsked) {
      $("console").hidden = true;
      $("loading").hidden = false;
      try {
        await tryGraphiQL();
        $("loading").hidden = true;
        document.body.dataset.ready = "graphiql";
        return;
      } catch (error) {
        console.info("Using the built-in console:", error.message);
        $("loading").hidden = true;
        $("graphiql").hidden = true;
      }
    }
    startConsole();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
