/*
 * Recommender widget: renders "Lees ook" (related articles) and "Populair nieuws"
 * (most-clicked stories) under a news article, and reports view / impression / click
 * events back to the recommender service.
 *
 * Embed:
 *   <div class="rec-widget" data-article-id="demo-001" data-k-related="4" data-k-popular="6"></div>
 *   <script src="https://recommender.example/widget.js" async></script>
 * Optional container attributes: data-api-base, data-article-url (instead of the id),
 * data-title-related, data-title-popular, data-time-zone, data-timeout-ms and
 * data-link-template ("/demo/{id}": link items there instead of to their own URL).
 *
 * Dependency-free ES2017, no build step. The only global is window.RecommenderWidget = {init, consent}.
 * Server data is only ever written with textContent / setAttribute, never as HTML.
 * Any failure (service down, non-2xx, malformed JSON, timeout) leaves the container empty
 * and never throws, rejects unhandled or logs above console.debug.
 */
(function () {
  'use strict';

  if (typeof window === 'undefined' || typeof document === 'undefined') {
    return;
  }
  // Loaded twice on one page: keep the first copy, so the view event is not sent twice.
  if (window.RecommenderWidget && typeof window.RecommenderWidget.init === 'function') {
    return;
  }

  var DEFAULTS = {
    kRelated: 4,
    kPopular: 6,
    maxK: 20,
    timeoutMs: 3000,
    titleRelated: 'Lees ook',
    titlePopular: 'Populair nieuws',
    timeZone: 'Europe/Amsterdam',
    imageWidth: 160,
    imageHeight: 90,
  };
  var SESSION_KEY = 'rec_session_id';
  // the A/B variant the server chose on this session's first list; asked for again on every
  // later page, so a reader keeps one ranking while list URLs stay cacheable (no reader id)
  var VARIANT_KEY = 'rec_variant';
  var VARIANT_PATTERN = /^[A-Za-z0-9_.-]{1,40}$/;
  // a transparent pixel: a thumbnail that fails to load keeps its grey box instead of the
  // browser's broken-image icon with the alt text spilling out of it
  var BLANK_IMAGE = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';
  var LOG_PREFIX = '[recommender-widget]';

  // document.currentScript is only set while this file runs for the first time, so it is
  // read here, at load, and not inside init().
  var OWN_SCRIPT = findOwnScript();

  var containerState = typeof WeakMap === 'function' ? new WeakMap() : null;
  var viewedArticles = new Set();
  var memorySessionId = null;
  var memoryVariant = '';
  var idCounter = 0;
  var dateFormatters = {};

  // ---------------------------------------------------------------- utilities

  function debug() {
    try {
      if (typeof console !== 'undefined' && typeof console.debug === 'function') {
        var args = Array.prototype.slice.call(arguments);
        args.unshift(LOG_PREFIX);
        console.debug.apply(console, args);
      }
    } catch (ignored) {
      // logging must never break the page
    }
  }

  function findOwnScript() {
    try {
      var current = document.currentScript;
      if (current && current.src) {
        return current;
      }
    } catch (ignored) {
      // fall through to the lookup below
    }
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      var src = scripts[i].src || '';
      if (/\/widget\.js(?:[?#].*)?$/.test(src)) {
        return scripts[i];
      }
    }
    return null;
  }

  function attr(el, name) {
    var value = el && el.getAttribute ? el.getAttribute(name) : null;
    if (value === null || value === undefined) {
      return '';
    }
    return String(value).trim();
  }

  function intAttr(el, name, fallback, min, max) {
    var raw = attr(el, name);
    if (!/^\d+$/.test(raw)) {
      return fallback;
    }
    var n = parseInt(raw, 10);
    return Math.min(max, Math.max(min, n));
  }

  /** Absolute http(s) URL or '' (blocks javascript:, data: and the like in href/src). */
  function safeHttpUrl(value, baseUrl) {
    if (typeof value !== 'string' || !value.trim()) {
      return '';
    }
    try {
      var parsed = new URL(value.trim(), baseUrl || document.baseURI);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
        return parsed.href;
      }
    } catch (ignored) {
      // not a URL
    }
    return '';
  }

  function withoutHash(url) {
    var i = url.indexOf('#');
    return i === -1 ? url : url.slice(0, i);
  }

  /** Base URL of the API without a trailing slash, or '' when none can be determined. */
  function resolveApiBase(container) {
    var explicit = attr(container, 'data-api-base') || attr(OWN_SCRIPT, 'data-api-base');
    if (explicit) {
      return safeHttpUrl(explicit).replace(/[?#].*$/, '').replace(/\/+$/, '');
    }
    var origin = '';
    try {
      if (OWN_SCRIPT && OWN_SCRIPT.src) {
        origin = new URL(OWN_SCRIPT.src, document.baseURI).origin;
      } else {
        origin = window.location.origin;
      }
    } catch (ignored) {
      origin = '';
    }
    return /^https?:\/\//.test(origin) ? origin : '';
  }

  function uniqueId(prefix) {
    var id;
    do {
      idCounter += 1;
      id = prefix + '-' + idCounter;
    } while (document.getElementById(id));
    return id;
  }

  function randomId() {
    var c = window.crypto;
    try {
      if (c && typeof c.randomUUID === 'function') {
        return c.randomUUID();
      }
      if (c && typeof c.getRandomValues === 'function') {
        var bytes = new Uint8Array(16);
        c.getRandomValues(bytes);
        return Array.prototype.map.call(bytes, function (b) {
          return (b < 16 ? '0' : '') + b.toString(16);
        }).join('');
      }
    } catch (ignored) {
      // fall back to Math.random below
    }
    var out = '';
    for (var i = 0; i < 32; i++) {
      out += Math.floor(Math.random() * 16).toString(16);
    }
    return out;
  }

  function sessionId() {
    try {
      var storage = window.sessionStorage;
      var stored = storage.getItem(SESSION_KEY);
      if (stored && /^[A-Za-z0-9_-]{8,128}$/.test(stored)) {
        return stored;
      }
      var fresh = randomId();
      storage.setItem(SESSION_KEY, fresh);
      return fresh;
    } catch (ignored) {
      // storage blocked (privacy mode, sandboxed iframe, quota): keep it in memory
    }
    if (!memorySessionId) {
      memorySessionId = randomId();
    }
    return memorySessionId;
  }

  function storedVariant() {
    try {
      var stored = window.sessionStorage.getItem(VARIANT_KEY) || '';
      return VARIANT_PATTERN.test(stored) ? stored : '';
    } catch (ignored) {
      return memoryVariant;
    }
  }

  /** Remembers the variant a list came from; "default" means no experiment: nothing to keep. */
  function rememberVariant(name) {
    var keep = VARIANT_PATTERN.test(name || '') && name !== 'default' ? name : '';
    memoryVariant = keep;
    try {
      if (keep) {
        window.sessionStorage.setItem(VARIANT_KEY, keep);
      } else {
        window.sessionStorage.removeItem(VARIANT_KEY);
      }
    } catch (ignored) {
      // storage blocked: the in-memory copy serves this page
    }
  }

  function withVariant(url) {
    var variant = storedVariant();
    return variant ? url + '&variant=' + encodeURIComponent(variant) : url;
  }

  // ------------------------------------------------------------------- dates

  function dateFormatter(timeZone) {
    if (Object.prototype.hasOwnProperty.call(dateFormatters, timeZone)) {
      return dateFormatters[timeZone];
    }
    var options = {
      day: '2-digit',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    };
    var formatter = null;
    try {
      formatter = new Intl.DateTimeFormat('nl-NL', Object.assign({timeZone: timeZone}, options));
    } catch (ignored) {
      try {
        // unknown time zone (or no tz data): use the reader's own zone
        formatter = new Intl.DateTimeFormat('nl-NL', options);
      } catch (alsoIgnored) {
        formatter = null;
      }
    }
    dateFormatters[timeZone] = formatter;
    return formatter;
  }

  /** "06 okt 2025 11:28", or '' when the date cannot be read. */
  function formatDate(iso, timeZone) {
    if (!iso) {
      return '';
    }
    var date = new Date(iso);
    if (isNaN(date.getTime())) {
      return '';
    }
    var formatter = dateFormatter(timeZone);
    if (!formatter) {
      return '';
    }
    try {
      if (typeof formatter.formatToParts === 'function') {
        var parts = {};
        formatter.formatToParts(date).forEach(function (part) {
          parts[part.type] = part.value;
        });
        if (parts.day && parts.month && parts.year && parts.hour && parts.minute) {
          var month = parts.month.replace(/\.$/, '');
          return parts.day + ' ' + month + ' ' + parts.year + ' ' + parts.hour + ':' + parts.minute;
        }
      }
      return formatter.format(date);
    } catch (ignored) {
      return '';
    }
  }

  // ------------------------------------------------------------------ events

  /**
   * Consent: a page that sets data-consent="required" (on the script tag or on a .rec-widget
   * container) gets its lists, but the widget creates no session id and sends no event until
   * the page calls RecommenderWidget.consent() (its consent manager's "accepted" callback).
   * Events of this page view wait in memory until then (at most MAX_PENDING); consent(false)
   * drops them.
   */
  var MAX_PENDING = 50;
  var consentState = '';  // '', 'given' or 'denied'
  var pendingEvents = [];

  function consentRequired() {
    if (attr(OWN_SCRIPT, 'data-consent') === 'required') {
      return true;
    }
    try {
      return document.querySelector('.rec-widget[data-consent="required"]') !== null;
    } catch (ignored) {
      return true;  // cannot tell: stay on the safe side
    }
  }

  function trackingAllowed() {
    return consentState === 'given' || (consentState === '' && !consentRequired());
  }

  function consent(given) {
    consentState = given === false ? 'denied' : 'given';
    var queued = pendingEvents;
    pendingEvents = [];
    if (consentState !== 'given') {
      return;
    }
    var byBase = {};
    queued.forEach(function (entry) {
      (byBase[entry.base] = byBase[entry.base] || []).push(entry.event);
    });
    Object.keys(byBase).forEach(function (base) { sendEvents(base, byBase[base]); });
  }

  function makeEvent(type, articleId, recommendationId, position) {
    // the session id is added when the event is sent: none exists before consent
    return {
      type: type,
      article_id: articleId,
      recommendation_id: recommendationId || null,
      position: typeof position === 'number' ? position : null,
      ts: new Date().toISOString(),
    };
  }

  /**
   * Fire-and-forget POST {base}/v1/events: fetch with keepalive (survives navigation, never
   * delays it), sendBeacon where fetch is missing. Never throws, never rejects.
   */
  function sendEvents(base, events) {
    if (!base || !events.length) {
      return;
    }
    if (!trackingAllowed()) {
      if (consentState === '') {
        events.forEach(function (event) { pendingEvents.push({base: base, event: event}); });
        pendingEvents = pendingEvents.slice(-MAX_PENDING);
      }
      return;
    }
    var session = sessionId();
    events.forEach(function (event) { event.session_id = session; });
    var url = base + '/v1/events';
    var body;
    try {
      body = JSON.stringify({events: events});
    } catch (err) {
      debug('could not encode events', err);
      return;
    }
    // fetch with keepalive first: it survives navigation like a beacon, and it can go out
    // without credentials; a cross-origin beacon always carries them, which the API's CORS
    // (never credentialed by default) refuses
    try {
      if (typeof fetch === 'function') {
        fetch(url, {
          method: 'POST',
          mode: 'cors',
          credentials: 'omit',
          keepalive: true,
          headers: {'Content-Type': 'application/json'},
          body: body,
        }).catch(function (err) {
          debug('event delivery failed', err);
        });
        return;
      }
      if (navigator && typeof navigator.sendBeacon === 'function' && typeof Blob === 'function') {
        navigator.sendBeacon(url, new Blob([body], {type: 'application/json'}));
      }
    } catch (err) {
      debug('event delivery failed', err);
    }
  }

  function sendViewOnce(base, articleId) {
    if (!articleId || viewedArticles.has(articleId)) {
      return;
    }
    viewedArticles.add(articleId);
    sendEvents(base, [makeEvent('view', articleId, null, null)]);
  }

  /**
   * Calls onVisible once, when at least half of the block is in the viewport (or the block
   * fills at least half of the viewport, for blocks taller than two screens).
   * Without IntersectionObserver it calls onVisible right away.
   */
  function watchVisibility(block, onVisible) {
    if (typeof IntersectionObserver !== 'function') {
      onVisible();
      return null;
    }
    var done = false;
    var thresholds = [];
    for (var i = 0; i <= 10; i++) {
      thresholds.push(i / 10);
    }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (done || !entry.isIntersecting) {
          return;
        }
        var root = entry.rootBounds;
        var fillsViewport = !!root && root.height > 0 &&
          entry.intersectionRect.height >= 0.5 * root.height;
        if (entry.intersectionRatio >= 0.499 || fillsViewport) {
          done = true;
          observer.disconnect();
          onVisible();
        }
      });
    }, {threshold: thresholds});
    observer.observe(block);
    return observer;
  }

  // ------------------------------------------------------------------ fetching

  function parseItem(raw) {
    if (!raw || typeof raw !== 'object') {
      return null;
    }
    var id = raw.id;
    if (typeof id === 'number' && isFinite(id)) {
      id = String(id);
    }
    if (typeof id !== 'string' || !id) {
      return null;
    }
    var url = safeHttpUrl(raw.url);
    var title = typeof raw.title === 'string' ? raw.title.trim() : '';
    if (!url || !title) {
      return null;
    }
    var published = typeof raw.published_at === 'string' ? raw.published_at.trim() : '';
    return {
      id: id,
      url: url,
      title: title,
      section: typeof raw.section === 'string' ? raw.section.trim() : '',
      image: safeHttpUrl(raw.image),
      publishedAt: published,
    };
  }

  /** {recommendationId, fallback, articleId, items} or null when the payload is malformed. */
  function parseList(data) {
    if (!data || typeof data !== 'object' || !Array.isArray(data.items)) {
      return null;
    }
    var items = [];
    var seen = new Set();
    data.items.forEach(function (raw) {
      var item = parseItem(raw);
      if (item && !seen.has(item.id)) {
        seen.add(item.id);
        items.push(item);
      }
    });
    return {
      recommendationId: typeof data.recommendation_id === 'string' && data.recommendation_id
        ? data.recommendation_id : null,
      fallback: data.fallback === true,
      variant: typeof data.variant === 'string' ? data.variant : '',
      // optional: lets url-only pages learn their own article id for view/impression events
      articleId: typeof data.article_id === 'string' ? data.article_id : '',
      items: items,
    };
  }

  /**
   * GET url and parse a recommendation list. Resolves to {ok: true, list} or
   * {ok: false, reason: 'network' | 'http' | 'parse' | 'malformed'}; never rejects.
   */
  async function fetchList(url, timeoutMs) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs) : null;
    try {
      var response;
      try {
        response = await fetch(url, {
          method: 'GET',
          mode: 'cors',
          credentials: 'omit',
          headers: {Accept: 'application/json'},
          signal: controller ? controller.signal : undefined,
        });
      } catch (err) {
        debug('request failed', url, err && err.name);
        return {ok: false, reason: 'network'};
      }
      if (!response.ok) {
        debug('request answered', response.status, url);
        return {ok: false, reason: 'http'};
      }
      var data;
      try {
        data = await response.json();
      } catch (err) {
        debug('response is not JSON', url);
        return {ok: false, reason: 'parse'};
      }
      var list = parseList(data);
      if (!list) {
        debug('response has no items list', url);
        return {ok: false, reason: 'malformed'};
      }
      rememberVariant(list.variant);
      return {ok: true, list: list};
    } catch (err) {
      debug('unexpected failure', url, err);
      return {ok: false, reason: 'network'};
    } finally {
      if (timer) {
        clearTimeout(timer);
      }
    }
  }

  function relatedEndpoint(cfg) {
    if (cfg.articleId) {
      return cfg.base + '/v1/articles/' + encodeURIComponent(cfg.articleId) +
        '/related?k=' + cfg.kRelated;
    }
    return cfg.base + '/v1/related?url=' + encodeURIComponent(cfg.articleUrl) + '&k=' + cfg.kRelated;
  }

  function popularEndpoint(cfg, articleId, relatedIds) {
    if (articleId) {
      return cfg.base + '/v1/popular?k=' + cfg.kPopular + '&context=' + encodeURIComponent(articleId);
    }
    // url-only page: the server cannot resolve a context, so exclude the related items
    // explicitly and ask for one extra in case the page's own article is among the top
    var url = cfg.base + '/v1/popular?k=' + (cfg.kPopular + 1);
    if (relatedIds.length) {
      url += '&exclude=' + relatedIds.map(encodeURIComponent).join(',');
    }
    return url;
  }

  // ------------------------------------------------------------------ rendering

  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    return node;
  }

  /**
   * The item's own URL, or data-link-template with {id} filled in (e.g. "/demo/{id}" on the
   * demo page, whose articles live on a site that does not exist).
   */
  function itemHref(item, cfg) {
    if (cfg.linkTemplate) {
      var href = safeHttpUrl(cfg.linkTemplate.split('{id}').join(encodeURIComponent(item.id)));
      if (href) {
        return href;
      }
    }
    return item.url;
  }

  function renderItem(item, position, cfg) {
    var li = el('li', 'rec-item');
    li.setAttribute('data-id', item.id);
    li.setAttribute('data-position', String(position));

    var link = el('a', 'rec-link');
    link.setAttribute('href', itemHref(item, cfg));

    if (item.image) {
      var img = el('img', 'rec-image');
      img.setAttribute('src', item.image);
      img.setAttribute('alt', item.title);
      img.setAttribute('loading', 'lazy');
      img.setAttribute('decoding', 'async');
      img.setAttribute('width', String(DEFAULTS.imageWidth));
      img.setAttribute('height', String(DEFAULTS.imageHeight));
      img.addEventListener('error', function onError() {
        img.removeEventListener('error', onError);
        img.setAttribute('src', BLANK_IMAGE);
      });
      link.appendChild(img);
      link.appendChild(document.createTextNode(' '));
    }
    if (item.section) {
      var section = el('span', 'rec-section');
      section.textContent = item.section;
      link.appendChild(section);
      link.appendChild(document.createTextNode(' '));
    }
    var headline = el('span', 'rec-headline');
    headline.textContent = item.title;
    link.appendChild(headline);

    var shown = formatDate(item.publishedAt, cfg.timeZone);
    if (shown) {
      link.appendChild(document.createTextNode(' '));
      var time = el('time', 'rec-time');
      time.setAttribute('datetime', item.publishedAt);
      time.textContent = shown;
      link.appendChild(time);
    }
    li.appendChild(link);
    return li;
  }

  /** Builds one block, wires its click and impression events, and returns it. */
  function renderBlock(kind, title, list, cfg, state, pageArticleId) {
    var block = el('section', 'rec-block rec-' + kind);
    var headingId = uniqueId('rec-' + kind + '-title');
    block.setAttribute('aria-labelledby', headingId);
    if (list.recommendationId) {
      block.setAttribute('data-recommendation-id', list.recommendationId);
    }
    if (list.fallback) {
      block.setAttribute('data-fallback', 'true');
    }

    var heading = el('h2', 'rec-title');
    heading.id = headingId;
    heading.textContent = title;
    block.appendChild(heading);

    var ol = el('ol', 'rec-list');
    list.items.forEach(function (item, position) {
      ol.appendChild(renderItem(item, position, cfg));
    });
    block.appendChild(ol);

    function onFollow(event) {
      try {
        // middle button arrives as auxclick; primary (and keyboard Enter) as click
        if (event.type === 'auxclick' ? event.button !== 1 : event.button !== 0) {
          return;
        }
        var target = event.target;
        var link = target && typeof target.closest === 'function' ? target.closest('a.rec-link') : null;
        if (!link || !block.contains(link)) {
          return;
        }
        var li = link.closest('li.rec-item');
        if (!li) {
          return;
        }
        var position = parseInt(li.getAttribute('data-position'), 10);
        sendEvents(cfg.base, [makeEvent(
          'click',
          li.getAttribute('data-id'),
          list.recommendationId,
          isNaN(position) ? null : position
        )]);
      } catch (err) {
        debug('click tracking failed', err);
      }
      // never preventDefault: the navigation goes ahead untouched
    }
    block.addEventListener('click', onFollow);
    block.addEventListener('auxclick', onFollow);

    return {
      node: block,
      // called once the block is in the document
      watch: function () {
        if (!pageArticleId) {
          return;
        }
        var observer = watchVisibility(block, function () {
          if (state.generation === cfg.generation) {
            sendEvents(cfg.base, [makeEvent('impression', pageArticleId, list.recommendationId, null)]);
          }
        });
        if (observer) {
          state.observers.push(observer);
        }
      },
    };
  }

  // ------------------------------------------------------------------ lifecycle

  function stateFor(container) {
    var state = containerState ? containerState.get(container) : container.__recWidgetState;
    if (!state) {
      state = {generation: 0, observers: []};
      if (containerState) {
        containerState.set(container, state);
      } else {
        container.__recWidgetState = state;
      }
    }
    return state;
  }

  function readConfig(container, generation) {
    var articleId = attr(container, 'data-article-id');
    var rawUrl = attr(container, 'data-article-url');
    var articleUrl = rawUrl ? safeHttpUrl(rawUrl) : '';
    var base = resolveApiBase(container);
    if (!base) {
      debug('no usable API base for', container);
      return null;
    }
    if (!articleId && !articleUrl) {
      debug('container has neither data-article-id nor a valid data-article-url', container);
      return null;
    }
    return {
      generation: generation,
      base: base,
      articleId: articleId,
      articleUrl: articleUrl,
      kRelated: intAttr(container, 'data-k-related', DEFAULTS.kRelated, 0, DEFAULTS.maxK),
      kPopular: intAttr(container, 'data-k-popular', DEFAULTS.kPopular, 0, DEFAULTS.maxK),
      timeoutMs: intAttr(container, 'data-timeout-ms', DEFAULTS.timeoutMs, 200, 30000),
      titleRelated: attr(container, 'data-title-related') || DEFAULTS.titleRelated,
      titlePopular: attr(container, 'data-title-popular') || DEFAULTS.titlePopular,
      timeZone: attr(container, 'data-time-zone') || DEFAULTS.timeZone,
      linkTemplate: attr(container, 'data-link-template'),
    };
  }

  function clear(container) {
    while (container.firstChild) {
      container.removeChild(container.firstChild);
    }
  }

  async function runContainer(container) {
    var state = stateFor(container);
    state.generation += 1;
    var generation = state.generation;
    state.observers.forEach(function (observer) { observer.disconnect(); });
    state.observers = [];
    // On a re-run the old blocks stay until the new ones are ready, then are swapped in one
    // go: emptying the container first would make the page jump under the reader.
    var previous = Array.prototype.slice.call(container.childNodes);
    var pending = [];

    function current() {
      return state.generation === generation;
    }
    function finish(result) {
      if (!current()) {
        return;
      }
      if (result !== 'ready') {
        clear(container);
      } else if (previous.length) {
        previous.forEach(function (node) {
          if (node.parentNode === container) {
            container.removeChild(node);
          }
        });
        pending.forEach(function (block) {
          container.appendChild(block.node);
        });
        pending.forEach(function (block) {
          block.watch();
        });
      }
      container.setAttribute('data-state', result);
    }

    var cfg = readConfig(container, generation);
    if (!cfg) {
      finish('error');
      return;
    }
    container.setAttribute('data-state', 'loading');

    var pageArticleId = cfg.articleId;
    sendViewOnce(cfg.base, pageArticleId);

    var rendered = 0;
    var failed = false;
    var unreachable = false;
    var relatedIds = [];

    function show(kind, title, list) {
      var block = renderBlock(kind, title, list, cfg, state, pageArticleId);
      rendered += 1;
      if (previous.length) {
        pending.push(block);
      } else {
        // first render: show "Lees ook" without waiting for "Populair nieuws"
        container.appendChild(block.node);
        block.watch();
      }
    }

    if (cfg.kRelated > 0) {
      var related = await fetchList(withVariant(relatedEndpoint(cfg)), cfg.timeoutMs);
      if (!current()) {
        return;
      }
      if (related.ok) {
        if (!pageArticleId && related.list.articleId) {
          pageArticleId = related.list.articleId;
          sendViewOnce(cfg.base, pageArticleId);
        }
        related.list.items = related.list.items.filter(function (item) {
          return item.id !== pageArticleId;
        }).slice(0, cfg.kRelated);
        relatedIds = related.list.items.map(function (item) { return item.id; });
        if (related.list.items.length) {
          show('related', cfg.titleRelated, related.list);
        }
      } else {
        failed = true;
        // service down or timing out: do not wait for a second failure
        unreachable = related.reason === 'network';
      }
    }

    if (cfg.kPopular > 0 && !unreachable) {
      var popularUrl = withVariant(popularEndpoint(cfg, pageArticleId, relatedIds));
      var popular = await fetchList(popularUrl, cfg.timeoutMs);
      if (!current()) {
        return;
      }
      if (popular.ok) {
        var excluded = new Set(relatedIds);
        if (pageArticleId) {
          excluded.add(pageArticleId);
        }
        var pageUrl = cfg.articleUrl ? withoutHash(cfg.articleUrl) : '';
        popular.list.items = popular.list.items.filter(function (item) {
          return !excluded.has(item.id) && !(pageUrl && withoutHash(item.url) === pageUrl);
        }).slice(0, cfg.kPopular);
        if (popular.list.items.length) {
          show('popular', cfg.titlePopular, popular.list);
        }
      } else {
        failed = true;
      }
    }

    finish(rendered > 0 ? 'ready' : failed ? 'error' : 'empty');
  }

  /**
   * Renders every .rec-widget inside root (default: the whole document; root itself counts
   * when it is a .rec-widget). Running it again re-renders. The returned promise resolves
   * once every container has settled and never rejects.
   */
  function init(root) {
    try {
      var scope = root && typeof root.querySelectorAll === 'function' ? root : document;
      var containers = [];
      if (scope.nodeType === 1 && typeof scope.matches === 'function' && scope.matches('.rec-widget')) {
        containers.push(scope);
      }
      Array.prototype.forEach.call(scope.querySelectorAll('.rec-widget'), function (container) {
        containers.push(container);
      });
      return Promise.all(containers.map(function (container) {
        return runContainer(container).catch(function (err) {
          debug('widget failed', err);
          try {
            clear(container);
            container.setAttribute('data-state', 'error');
          } catch (ignored) {
            // nothing more to do
          }
        });
      })).then(function () { return undefined; });
    } catch (err) {
      debug('init failed', err);
      return Promise.resolve();
    }
  }

  window.RecommenderWidget = {init: init, consent: consent};

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { init(); }, {once: true});
  } else {
    init();
  }
})();
