/* The planner's workbench (service-circle).
 *
 * Plain JavaScript on Leaflet, talking only to the documented JSON / GeoJSON API of the
 * server that sent the page. Every string that comes from data (names of facilities,
 * communities, messages) goes into the page as text (textContent, text nodes, DOM
 * elements handed to Leaflet), never as HTML. The page's state lives in its URL.
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ words
  const WORDS = {
    zh: {
      title: '一刻钟便民生活圈 · 规划工作台',
      langSwitch: 'English',
      study: '研究区', category: '设施类别', threshold: '时间 / 距离', profile: '步行人群',
      at: '营业时间', atCustom: '其他时刻', unknownOpen: '营业时间不明的按营业计',
      atAll: '不考虑营业时间（全部设施）', atOpen: (when, n, total, assumed) =>
        `${when} 营业的设施：${n}/${total} 处${assumed ? `（其中 ${assumed} 处营业时间不明，按营业计）` : ''}`,
      layers: '图层', facilities: '设施', isochrones: '步行可达范围', gaps: '覆盖缺口（人口）',
      units: '社区 / 村', base: '底图（需联网）', colourBy: '社区着色', unitPick: '查看社区 / 村',
      tools: '地图点击', toolUnit: '查看社区', toolReach: '此处能到哪些设施',
      toolDraw: '画范围汇总', toolPick: '选社区汇总',
      hintUnit: '点击地图上的社区或村，查看其指标、缺配项和服务它的设施。',
      hintReach: '点击地图上任一点，查看从该点步行到各类设施要多久。',
      hintDraw: '依次点击地图画出范围的顶点，然后点“完成并汇总”（或按回车）。Esc 清除。',
      hintPick: '点击社区将其加入或移出选择，然后点“汇总所选社区”。',
      finish: '完成并汇总', clear: '清除', pickSummary: '汇总所选社区',
      siting: '新增设施选址', siteN: '新增数量', siteRun: (n, c) => `为“${c}”选址 ${n} 处`,
      siteExport: '导出选址 GeoJSON', downloads: '下载', reportHtml: '报告（网页）',
      reportXlsx: '报告（Excel）', layersGeojson: '当前图层 GeoJSON', cancel: '取消',
      apiDocs: '接口文档', working: (s) => `计算中… ${s} 秒`, cancelled: '已取消。',
      error: '出错了', groupDefault: (p) => `按服务人群（${p}）`,
      minutes: (v) => `${v} 分钟`, metres: (v) => `${v} 米`,
      standard: (v) => `${v} 分钟（标准）`,
      basic: '基本保障', quality: '品质提升',
      colourMissing: '缺配项数', colourShare: (c) => `${c}覆盖率`,
      noUnits: '此研究区没有社区 / 村边界（用 --units 构建）。',
      noStudies: '服务器上没有可用的研究区。',
      unavailable: (r) => `（不可用：${r}）`,
      chooseUnit: '（选择社区 / 村）',
      residents: '常住人口', households: '户数', homes: '居住点', kind: '类型',
      township: '乡镇 / 街道', urban: '城市社区', village: '行政村',
      indicators: '指标与目标', indicator: '指标', value: '本社区', target: '目标',
      status: '判定', met: '达标', notMet: '未达标', notComputable: '无法计算', lonLat: '经度, 纬度（WGS-84）',
      noTarget: '无目标', yes: '是', no: '否',
      missingTitle: (n) => `缺配（${n} 项）`, complete: '各项服务齐全（配齐）。',
      serving: '服务本社区的设施', inside: (n) => `区内设施 ${n} 处`,
      unplacedTitle: (n) => `未接入路网的设施 ${n} 处（不服务任何居民）`, unplaced_off_network: (m) => `距最近道路超过 ${m} 米`,
      unplaced_blocked: () => '与可达道路之间隔着水体', unplaced_no_geometry: () => '没有坐标',
      name: '名称', kindCol: '类别', time: '中位时间', within: '达标',
      unnamed: '（未命名）', judgedNote: '社区指标按标准评判：各类别在规定时间内、按其服务人群的步速。',
      reachTitle: (t) => `从此点出发（${t}内）`, nearest: '最近设施',
      notReached: (t) => `${t}内无`, reachArea: (a) => `可达面积 ${a} 平方公里`,
      nbhdTitle: '范围汇总', pickedTitle: (n) => `${n} 个社区汇总`,
      population: '人口', coverage: '覆盖率', completeness: '服务配齐度（人口加权）',
      basicScore: '基本保障类配齐度', mostMissing: '缺得最多的服务',
      sitesTitle: (n, c) => `“${c}”新增 ${n} 处选址`, rank: '序号', gain: '新增覆盖人口',
      coverBefore: '选址前覆盖', coverAfter: '选址后覆盖', gapsAfter: '选址后缺口',
      layerSummary: '当前图层', gapCount: (n, p) => `缺口 ${n} 处，共 ${p} 人`,
      isoArea: (a) => `可达面积 ${a} 平方公里`, facilityCount: (n) => `设施 ${n} 处`,
      legendGaps: '缺口人口', legendUnits: '社区着色', pickNone: '请先选择至少一个社区。',
      drawTooFew: '至少需要三个顶点。', attribution: '数据',
      minutesUnit: '分钟', metresUnit: '米', people: '人',
      offNetwork: '离路网过远', layerOff: '（未显示）',
    },
    en: {
      title: '15-minute living circle · planner\'s workbench',
      langSwitch: '中文',
      study: 'Study', category: 'Category', threshold: 'Time / distance', profile: 'Walkers',
      at: 'Open at', atCustom: 'Another moment', unknownOpen: 'Count facilities without known hours as open',
      atAll: 'any time (every facility)', atOpen: (when, n, total, assumed) =>
        `open at ${when}: ${n} of ${total} facilities${assumed ? ` (${assumed} without known hours, counted open)` : ''}`,
      layers: 'Layers', facilities: 'Facilities', isochrones: 'Walkable area',
      gaps: 'Gaps (population)', units: 'Communities / villages', base: 'Base map (internet)',
      colourBy: 'Colour units by', unitPick: 'Show a community / village',
      tools: 'Map click', toolUnit: 'Community', toolReach: 'What is in reach here',
      toolDraw: 'Draw an area', toolPick: 'Pick communities',
      hintUnit: 'Click a community or village: its indicators, what it lacks, who serves it.',
      hintReach: 'Click any point: how long it takes to walk to each category.',
      hintDraw: 'Click the corners of an area, then "Finish and sum up" (or Enter). Esc clears.',
      hintPick: 'Click communities to add or remove them, then "Sum up the picked".',
      finish: 'Finish and sum up', clear: 'Clear', pickSummary: 'Sum up the picked',
      siting: 'Site new facilities', siteN: 'How many',
      siteRun: (n, c) => `Site ${n} new ${c}`,
      siteExport: 'Export sites (GeoJSON)', downloads: 'Downloads', reportHtml: 'Report (page)',
      reportXlsx: 'Report (Excel)', layersGeojson: 'Current layers (GeoJSON)', cancel: 'Cancel',
      apiDocs: 'API documentation', working: (s) => `Working… ${s} s`, cancelled: 'Cancelled.',
      error: 'Error', groupDefault: (p) => `The served group's (${p})`,
      minutes: (v) => `${v} min`, metres: (v) => `${v} m`,
      standard: (v) => `${v} min (standard)`,
      basic: 'basic', quality: 'quality',
      colourMissing: 'Services missing', colourShare: (c) => `Coverage: ${c}`,
      noUnits: 'This study has no community / village boundaries (build it with --units).',
      noStudies: 'The server holds no available study.',
      unavailable: (r) => ` (unavailable: ${r})`,
      chooseUnit: '(choose a community / village)',
      residents: 'Residents', households: 'Households', homes: 'Homes', kind: 'Kind',
      township: 'Township / street', urban: 'urban community', village: 'village',
      indicators: 'Indicators and targets', indicator: 'Indicator', value: 'This unit',
      target: 'Target', status: 'Verdict', met: 'met', notMet: 'not met', lonLat: 'lon, lat (WGS-84)',
      notComputable: 'not computable', noTarget: 'no target', yes: 'yes', no: 'no',
      missingTitle: (n) => `Lacking (${n})`, complete: 'Every service assessed is present.',
      serving: 'Facilities serving this unit', inside: (n) => `${n} facilities inside`,
      unplacedTitle: (n) => `${n} facilities not on the network (they serve nobody)`, unplaced_off_network: (m) => `more than ${m} m from every street`,
      unplaced_blocked: () => 'water between it and every street within reach', unplaced_no_geometry: () => 'no location',
      name: 'Name', kindCol: 'Category', time: 'Median time', within: 'Within',
      unnamed: '(no name)',
      judgedNote: 'Units are judged by the standard: each category at its own minutes, at its served group\'s pace.',
      reachTitle: (t) => `From this point (within ${t})`, nearest: 'Nearest',
      notReached: (t) => `none within ${t}`, reachArea: (a) => `area in reach ${a} km²`,
      nbhdTitle: 'Area summary', pickedTitle: (n) => `${n} communities together`,
      population: 'Population', coverage: 'Coverage', completeness: 'Completeness (people-weighted)',
      basicScore: 'Basic services completeness', mostMissing: 'Most missing',
      sitesTitle: (n, c) => `${n} new sites for ${c}`, rank: 'Rank', gain: 'People gained',
      coverBefore: 'Covered before', coverAfter: 'Covered after', gapsAfter: 'Gaps after siting',
      layerSummary: 'Current layers', gapCount: (n, p) => `${n} gaps, ${p} people`,
      isoArea: (a) => `walkable area ${a} km²`, facilityCount: (n) => `${n} facilities`,
      legendGaps: 'People in the gap', legendUnits: 'Units', pickNone: 'Pick at least one community first.',
      drawTooFew: 'An area needs at least three corners.', attribution: 'Data',
      minutesUnit: 'min', metresUnit: 'm', people: 'people',
      offNetwork: 'too far from the streets', layerOff: '(hidden)',
    },
  };
  const PROFILE_NAMES = {
    zh: { adult: '成年人', adult_winter: '成年人（冬季）', elderly: '老年人',
          elderly_winter: '老年人（冬季）', slow: '慢行（带小孩）', wheelchair: '轮椅',
          walker_frame: '助行器' },
    en: { adult: 'adults', adult_winter: 'adults, winter', elderly: 'older people',
          elderly_winter: 'older people, winter', slow: 'slow walkers', wheelchair: 'wheelchair',
          walker_frame: 'walking frame' },
  };
  const LEVELS = ['block', '5min', '10min', '15min', 'village', 'township'];
  // moments of an ordinary week the planner is offered (any other can be typed)
  const MOMENTS = {
    zh: [['周一 08:00', '工作日早上 8:00（送托）'], ['周一 12:00', '工作日中午 12:00（午餐）'],
         ['周日 12:00', '周日中午 12:00'], ['周二 23:00', '夜间 23:00'], ['周三 03:00', '凌晨 3:00']],
    en: [['周一 08:00', 'weekday 08:00 (drop-off)'], ['周一 12:00', 'weekday noon (lunch)'],
         ['周日 12:00', 'Sunday noon'], ['周二 23:00', 'night, 23:00'], ['周三 03:00', '03:00 at night']],
  };
  const THRESHOLDS = ['min:5', 'min:10', 'min:15', 'm:300', 'm:500', 'm:1000'];
  const LAYERS = ['facilities', 'isochrones', 'gaps', 'units', 'base'];

  // ------------------------------------------------------------------ state
  const params = new URLSearchParams(window.location.search);
  const state = {
    lang: params.get('lang') === 'en' ? 'en' : 'zh',
    study: params.get('study') || '',
    category: params.get('category') || '',
    threshold: params.get('t') || '',
    profile: params.get('profile') || '',
    colour: params.get('colour') || 'missing',
    unit: params.get('unit') || '',
    tool: ['unit', 'reach', 'draw', 'pick'].includes(params.get('tool')) ? params.get('tool') : 'unit',
    view: params.get('view') || '',
    at: params.get('at') || '',
    unknownOpen: params.get('uh') !== 'closed',
    layers: null,
  };
  const shown = params.get('layers');
  const body = document.body;
  const tilesOnAtStart = body.dataset.tilesOn === '1';
  state.layers = new Set(shown !== null ? shown.split(',').filter((k) => LAYERS.includes(k))
    : ['facilities', 'isochrones', 'gaps', 'units', ...(tilesOnAtStart ? ['base'] : [])]);

  const $ = (id) => document.getElementById(id);
  const t = (key, ...args) => {
    const word = WORDS[state.lang][key];
    return typeof word === 'function' ? word(...args) : word;
  };
  const numberFormat = () => new Intl.NumberFormat(state.lang === 'zh' ? 'zh-CN' : 'en-GB', { maximumFractionDigits: 0 });
  const sep = () => (state.lang === 'zh' ? '；' : '; ');
  const people = (v) => numberFormat().format(Math.round(v));
  const percent = (v) => (v === null || v === undefined || !Number.isFinite(v)) ? '–' : `${(100 * v).toFixed(1)}%`;
  const fixed = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v)) ? '–' : v.toFixed(d);

  /** An element with attributes and children (strings become text nodes). */
  /** ``text`` with the characters HTML gives a meaning to written as entities. */
  function htmlText(text) {
    return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  /** ``?view=lat,lon,zoom`` as numbers, or null when it is not one. */
  function parseView(text) {
    const parts = String(text || '').split(',');
    if (parts.length !== 3) return null;
    const [lat, lon, zoom] = parts.map(Number);
    const ok = [lat, lon, zoom].every(Number.isFinite) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180
      && zoom >= 3 && zoom <= 19;
    return ok ? { lat, lon, zoom: Math.round(zoom) } : null;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'className') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ------------------------------------------------------------------ the API
  const pending = new Set();
  let startedAt = 0;
  let ticker = null;

  class ApiError extends Error {
    constructor(status, detail, path) { super(detail); this.status = status; this.path = path; }
  }

  function problemText(body, fallback) {
    const detail = body && body.detail;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => {
        const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
        return where ? `${where}: ${d.msg}` : String(d.msg);
      }).join('; ');
    }
    return fallback;
  }

  async function api(path, options) {
    const controller = new AbortController();
    const init = { signal: controller.signal, headers: { accept: 'application/json, application/geo+json' } };
    if (options && options.body !== undefined) {
      init.method = 'POST';
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    pending.add(controller);
    showProgress();
    try {
      let response = await fetch(path, init);
      // the pool is full (503) or this page holds its share of it (429), said with a
      // Retry-After: wait as told, a few times, then say so; cancelling stops the wait too
      const busy = (r) => (r.status === 429 || r.status === 503) && r.headers.get('retry-after') !== null;
      for (let tries = 0; busy(response) && tries < 5; tries += 1) {
        const seconds = Math.min(30, Math.max(1, Number(response.headers.get('retry-after')) || 2));
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, seconds * 1000);
          controller.signal.addEventListener('abort', () => { clearTimeout(timer); reject(new DOMException('aborted', 'AbortError')); }, { once: true });
        });
        response = await fetch(path, init);
      }
      if (!response.ok) {
        let body = null;
        try { body = await response.json(); } catch (_) { /* not JSON */ }
        throw new ApiError(response.status, problemText(body, `${response.status} ${response.statusText}`), path);
      }
      return await response.json();
    } finally {
      pending.delete(controller);
      showProgress();
    }
  }

  function showProgress() {
    const box = $('status');
    if (pending.size === 0) {
      box.hidden = true;
      clearInterval(ticker);
      ticker = null;
      wb.busy = false;
      return;
    }
    wb.busy = true;
    if (ticker === null) {
      startedAt = performance.now();
      ticker = setInterval(tick, 250);
      tick();
    }
    box.hidden = false;
  }

  function tick() {
    $('status-text').textContent = t('working', ((performance.now() - startedAt) / 1000).toFixed(0));
  }

  function cancelAll() {
    for (const controller of [...pending]) controller.abort();
  }

  function showError(error) {
    if (error && error.name === 'AbortError') {
      notice(t('cancelled'));
      return;
    }
    const box = $('error');
    box.textContent = `${t('error')}: ${error && error.message ? error.message : String(error)}`;
    box.hidden = false;
    wb.errors.push(box.textContent);
  }

  function clearError() {
    $('error').hidden = true;
    $('error').textContent = '';
    $('notice').hidden = true;
  }

  function notice(text) {
    $('notice').textContent = text;
    $('notice').hidden = false;
  }

  /** Run an action; its errors are shown in plain words, never thrown at the console. */
  async function guarded(action) {
    clearError();
    try {
      return await action();
    } catch (error) {
      showError(error);
      return undefined;
    }
  }

  // ------------------------------------------------------------------ the map
  const map = L.map('map', { zoomControl: true, attributionControl: true, doubleClickZoom: true, maxZoom: 19, minZoom: 3 });
  map.attributionControl.setPrefix(false);
  for (const [name, z] of [['units', 410], ['isochrones', 420], ['gaps', 430], ['reach', 440], ['sites', 650]]) {
    map.createPane(name).style.zIndex = String(z);
  }
  const base = L.tileLayer(body.dataset.tiles, { maxZoom: 19, attribution: htmlText(body.dataset.tilesAttribution || '') });
  const wb = {
    map, state, data: {}, layers: {}, errors: [], busy: false, ready: false, selected: new Set(),
    base,
  };
  window.workbench = wb;
  const layerGroups = {
    facilities: L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40, chunkedLoading: false }),
    isochrones: L.featureGroup(),
    gaps: L.featureGroup(),
    units: L.featureGroup(),
    reach: L.featureGroup(),
    draw: L.featureGroup(),
    sites: L.featureGroup(),
    gapsAfter: L.featureGroup(),
  };
  Object.assign(wb.layers, layerGroups);
  for (const name of ['reach', 'draw', 'sites', 'gapsAfter']) layerGroups[name].addTo(map);
  const legend = L.control({ position: 'bottomright' });
  legend.onAdd = () => el('div', { className: 'legend', id: 'legend' });
  legend.addTo(map);

  function showLayer(name, on) {
    const layer = name === 'base' ? base : layerGroups[name];
    if (on && !map.hasLayer(layer)) layer.addTo(map);
    if (!on && map.hasLayer(layer)) map.removeLayer(layer);
  }

  // ------------------------------------------------------------------ the URL
  function saveUrl() {
    const q = new URLSearchParams();
    q.set('lang', state.lang);
    if (state.study) q.set('study', state.study);
    if (state.category) q.set('category', state.category);
    if (state.threshold) q.set('t', state.threshold);
    if (state.profile) q.set('profile', state.profile);
    if (state.at) q.set('at', state.at);
    if (!state.unknownOpen) q.set('uh', 'closed');
    q.set('layers', LAYERS.filter((k) => state.layers.has(k)).join(','));
    q.set('colour', state.colour);
    if (state.unit) q.set('unit', state.unit);
    q.set('tool', state.tool);
    if (wb.ready) {
      const c = map.getCenter();
      state.view = `${c.lat.toFixed(5)},${c.lng.toFixed(5)},${map.getZoom()}`;
    }
    if (state.view) q.set('view', state.view);
    history.replaceState(null, '', `${window.location.pathname}?${q.toString()}`);
  }

  // ------------------------------------------------------------------ words on the page
  function applyWords() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    $('lang').textContent = t('langSwitch');
    $('lang').setAttribute('lang', state.lang === 'zh' ? 'en' : 'zh-CN');
    $('panel').setAttribute('aria-label', t('title'));
    $('map').setAttribute('aria-label', state.lang === 'zh' ? '地图' : 'Map');
    $('tool-hint').textContent = t(`hint${state.tool[0].toUpperCase()}${state.tool.slice(1)}`);
    updateSiteButton();
  }

  function categoryName(key) {
    const c = wb.data.categories && wb.data.categories[key];
    if (!c) return key;
    return state.lang === 'zh' ? c.name_zh : c.name_en;
  }

  function profileName(name) {
    return PROFILE_NAMES[state.lang][name] || name;
  }

  function thresholdText(value) {
    const [unit, v] = value.split(':');
    return unit === 'm' ? t('metres', v) : t('minutes', v);
  }

  // ------------------------------------------------------------------ pickers
  function fillStudies() {
    const select = $('study');
    select.replaceChildren();
    for (const s of wb.data.studies) {
      const label = s.status === 'available' ? `${s.name} (${s.id})` : `${s.id}${t('unavailable', s.reason)}`;
      select.append(el('option', { value: s.id, disabled: s.status !== 'available' }, label));
    }
    select.value = state.study;
  }

  function fillCategories() {
    const select = $('category');
    const present = new Set(wb.data.study ? wb.data.study.categories : []);
    select.replaceChildren();
    const cats = Object.values(wb.data.categories).filter((c) => present.has(c.key));
    for (const level of LEVELS) {
      const mine = cats.filter((c) => c.level === level);
      if (!mine.length) continue;
      const group = el('optgroup', { label: state.lang === 'zh' ? mine[0].level_name_zh : mine[0].level_name_en });
      for (const c of mine) {
        const kind = c.mofcom === 'basic' ? t('basic') : c.mofcom === 'quality' ? t('quality') : '';
        const count = wb.data.study.facilities_by_category[c.key] || 0;
        group.append(el('option', { value: c.key }, `${categoryName(c.key)}${kind ? ` · ${kind}` : ''} (${count})`));
      }
      select.append(group);
    }
    if (!present.has(state.category)) {
      const first = cats.find((c) => c.key === 'elderly_canteen') || cats[0];
      state.category = first ? first.key : '';
    }
    select.value = state.category;
  }

  function fillThresholds() {
    const select = $('threshold');
    const cat = wb.data.categories[state.category];
    select.replaceChildren();
    const standard = cat ? `min:${+cat.minutes}` : 'min:15';
    const values = [...new Set([standard, ...THRESHOLDS])];
    for (const value of values) {
      let label = value === standard ? t('standard', value.split(':')[1]) : thresholdText(value);
      if (cat && value === `m:${+cat.metres}`) label += ' (GB 50180)';
      select.append(el('option', { value }, label));
    }
    if (!values.includes(state.threshold)) state.threshold = standard;
    select.value = state.threshold;
  }

  function fillProfiles() {
    const select = $('profile');
    const cat = wb.data.categories[state.category];
    select.replaceChildren(el('option', { value: '' }, t('groupDefault', profileName(cat ? cat.profile : 'adult'))));
    for (const p of wb.data.profiles) {
      select.append(el('option', { value: p.name, title: p.description }, `${profileName(p.name)} · ${p.speed_m_s} m/s`));
    }
    select.value = state.profile;
  }

  function fillColours() {
    const select = $('colour');
    select.replaceChildren(el('option', { value: 'missing' }, t('colourMissing')));
    if (state.category) select.append(el('option', { value: 'share' }, t('colourShare', categoryName(state.category))));
    for (const i of (wb.data.report ? wb.data.report.indicators : [])) {
      select.append(el('option', { value: `indicator:${i.key}` }, state.lang === 'zh' ? i.name_zh : i.name_en));
    }
    if (![...select.options].some((o) => o.value === state.colour)) state.colour = 'missing';
    select.value = state.colour;
  }

  function fillUnits() {
    const select = $('unit');
    select.replaceChildren(el('option', { value: '' }, t('chooseUnit')));
    const units = wb.data.units ? wb.data.units.features : [];
    for (const f of units) select.append(el('option', { value: f.properties.unit_code }, f.properties.unit_name));
    select.disabled = units.length === 0;
    select.value = units.some((f) => f.properties.unit_code === state.unit) ? state.unit : '';
  }

  function updateSiteButton() {
    const n = Number($('site-n').value) || 1;
    $('site-run').textContent = t('siteRun', n, state.category ? categoryName(state.category) : '');
  }

  function setTool(tool) {
    state.tool = tool;
    for (const b of document.querySelectorAll('[data-tool]')) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
    $('draw-actions').hidden = tool !== 'draw';
    $('pick-actions').hidden = tool !== 'pick';
    $('tool-hint').textContent = t(`hint${tool[0].toUpperCase()}${tool.slice(1)}`);
    if (tool === 'draw') map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
    map.getContainer().style.cursor = tool === 'unit' ? '' : 'crosshair';
    saveUrl();
  }

  function setReportLinks() {
    $('dl-report-html').href = withHours(studyPath(`/report.html?lang=${state.lang}`));
    $('dl-report-xlsx').href = withHours(studyPath(`/report.xlsx?lang=${state.lang}`));
  }

  // ------------------------------------------------------------------ queries
  function studyPath(rest) {
    return `/studies/${encodeURIComponent(state.study)}${rest}`;
  }

  function thresholdQuery() {
    const [unit, value] = state.threshold.split(':');
    return unit === 'm' ? { metres: value } : { minutes: value };
  }

  function thresholdBody() {
    const [unit, value] = state.threshold.split(':');
    return unit === 'm' ? { metres: Number(value) } : { minutes: Number(value) };
  }

  /** The profile asked for: the one chosen, else the category's served group's. */
  function profileOf() {
    if (state.profile) return state.profile;
    const cat = wb.data.categories[state.category];
    return cat ? cat.profile : 'adult';
  }

  /** The moment asked for (query parameters, or body fields): none for every facility. */
  function hoursParams() {
    return state.at ? { at: state.at, unknown_hours: state.unknownOpen ? 'open' : 'closed' } : {};
  }

  function withHours(path) {
    const q = new URLSearchParams(hoursParams()).toString();
    return q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path;
  }

  function query(extra) {
    const q = new URLSearchParams({ category: state.category, profile: profileOf(), ...thresholdQuery(), ...hoursParams(), ...(extra || {}) });
    return q.toString();
  }

  function fillMoments() {
    const select = $('at');
    select.replaceChildren(el('option', { value: '' }, t('atAll')));
    for (const [value, label] of MOMENTS[state.lang]) select.append(el('option', { value }, label));
    const preset = MOMENTS.zh.some(([value]) => value === state.at);
    if (state.at && !preset) select.append(el('option', { value: state.at }, state.at));
    select.value = state.at;
    $('unknown-open').checked = state.unknownOpen;
  }

  async function loadStudy() {
    const detail = await api(studyPath(''));
    wb.data.study = detail;
    fillCategories();
    fillThresholds();
    fillProfiles();
    updateSiteButton();
    $('attribution').textContent = `${t('attribution')}: ${detail.attribution}`;
    // Leaflet writes attributions as HTML: the study's (it names input files) goes as text
    map.attributionControl.addAttribution(htmlText(detail.attribution));
    const [w, s, e, n] = detail.bbox;
    const view = parseView(state.view);
    if (view && !wb.ready) {
      map.setView([view.lat, view.lon], view.zoom);
    } else {
      if (state.view && !view) state.view = ''; // a damaged ?view= is dropped, not obeyed
      map.fitBounds([[s, w], [n, e]], { padding: [10, 10] });
    }
    setReportLinks();
    await Promise.all([loadUnits(), loadCategoryLayers()]);
    if (wb.data.facilities) drawLayerSummary();
  }

  async function loadUnits() {
    wb.data.units = null;
    wb.data.report = null;
    layerGroups.units.clearLayers();
    if (wb.data.study.units > 0) {
      const [units, report] = await Promise.all([api(withHours(studyPath('/units'))), api(withHours(studyPath('/report')))]);
      wb.data.units = units;
      wb.data.report = report;
    } else {
      notice(t('noUnits'));
    }
    fillColours();
    fillUnits();
    drawUnits();
  }

  async function loadCategoryLayers() {
    if (!state.category) return;
    const q = query();
    const [facilities, isochrones, gaps] = await Promise.all([
      api(withHours(studyPath(`/facilities?category=${encodeURIComponent(state.category)}`))),
      api(studyPath(`/isochrones?${q}`)),
      api(studyPath(`/gaps?${q}`)),
    ]);
    Object.assign(wb.data, { facilities, isochrones, gaps });
    drawFacilities();
    drawIsochrones();
    drawGaps();
    drawLayerSummary();
    if (state.unit && wb.data.units) await showUnit(state.unit);
  }

  // ------------------------------------------------------------------ drawing layers
  /** A tooltip's content as an element: each line a text node (names stay text, never HTML). */
  function tooltip(...lines) {
    return el('div', {}, ...lines.map((line, i) => (i ? [el('br'), line] : [line])));
  }

  function drawFacilities() {
    const group = layerGroups.facilities;
    group.clearLayers();
    const markers = [];
    for (const f of wb.data.facilities.features) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties;
      const marker = L.circleMarker([lat, lon], {
        radius: 6, color: '#fff', weight: 1.5, fillColor: p.status === 'ok' ? '#1f6feb' : '#9aa5b1', fillOpacity: 0.95,
      });
      marker.feature = f;
      marker.bindTooltip(tooltip(p.name || t('unnamed'), state.lang === 'zh' ? p.category_zh : p.category_en,
        p.status === 'ok' ? '' : t('offNetwork')));
      markers.push(marker);
    }
    group.addLayers(markers);
    showLayer('facilities', state.layers.has('facilities'));
  }

  function drawIsochrones() {
    const group = layerGroups.isochrones;
    group.clearLayers();
    L.geoJSON(wb.data.isochrones, {
      pane: 'isochrones', interactive: false,
      style: () => ({ color: '#2f6fbd', weight: 1.5, fillColor: '#5b9bd5', fillOpacity: 0.25 }),
    }).eachLayer((l) => group.addLayer(l));
    showLayer('isochrones', state.layers.has('isochrones'));
  }

  const REDS = ['#fee5d9', '#fcae91', '#fb6a4a', '#de2d26', '#a50f15'];

  function breaks(values, classes) {
    const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (!sorted.length) return [];
    const out = [];
    for (let i = 1; i < classes; i++) out.push(sorted[Math.floor((i * sorted.length) / classes)]);
    return [...new Set(out)];
  }

  function classOf(value, cuts) {
    let i = 0;
    while (i < cuts.length && value >= cuts[i]) i++;
    return i;
  }

  function drawGaps() {
    const group = layerGroups.gaps;
    group.clearLayers();
    const features = wb.data.gaps.features.filter((f) => f.geometry);
    const cuts = breaks(features.map((f) => f.properties.population), REDS.length);
    wb.gapBreaks = cuts;
    L.geoJSON({ type: 'FeatureCollection', features }, {
      pane: 'gaps', interactive: false,
      style: (f) => ({ color: '#a50f15', weight: 1, fillColor: REDS[classOf(f.properties.population, cuts)], fillOpacity: 0.5 }),
    }).eachLayer((l) => group.addLayer(l));
    showLayer('gaps', state.layers.has('gaps'));
    drawLegend();
  }

  function unitValue(p) {
    if (state.colour === 'missing') return p.missing_count;
    if (state.colour === 'share') return p[`${state.category}.share`];
    const key = state.colour.slice('indicator:'.length);
    const met = p[`${key}.met`];
    if (met !== undefined) return met === null ? null : met;
    return p[key];
  }

  const GREENS_TO_REDS = ['#1a9850', '#91cf60', '#fee08b', '#fc8d59', '#d73027'];

  function unitColour(value) {
    if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value))) return '#cbd2d9';
    if (typeof value === 'boolean') return value ? '#1a9850' : '#d73027';
    if (state.colour === 'missing') {
      const most = Math.max(1, ...wb.data.units.features.map((f) => f.properties.missing_count || 0));
      return GREENS_TO_REDS[Math.min(4, Math.round((4 * value) / most))];
    }
    if (state.colour === 'share') return GREENS_TO_REDS[Math.min(4, Math.floor((1 - value) * 5))];
    const values = wb.data.units.features.map((f) => unitValue(f.properties)).filter(Number.isFinite);
    const top = Math.max(...values);
    const low = Math.min(...values);
    const k = top > low ? Math.min(4, Math.floor((5 * (value - low)) / (top - low))) : 0;
    return GREENS_TO_REDS[4 - k];
  }

  function drawUnits() {
    const group = layerGroups.units;
    group.clearLayers();
    wb.unitLayers = {};
    if (!wb.data.units) {
      showLayer('units', false);
      drawLegend();
      return;
    }
    L.geoJSON(wb.data.units, {
      pane: 'units',
      style: (f) => unitStyle(f),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindTooltip(tooltip(p.unit_name, `${t('missingTitle', p.missing_count)}`), { sticky: true });
        layer.on('click', (e) => {
          if (state.tool === 'unit') {
            L.DomEvent.stop(e);
            selectUnit(p.unit_code);
          } else if (state.tool === 'pick') {
            L.DomEvent.stop(e);
            togglePicked(p.unit_code);
          }
        });
        wb.unitLayers[p.unit_code] = layer;
      },
    }).eachLayer((l) => group.addLayer(l));
    showLayer('units', state.layers.has('units'));
    drawLegend();
  }

  function unitStyle(f) {
    const code = f.properties.unit_code;
    const chosen = code === state.unit || wb.selected.has(code);
    return {
      color: chosen ? '#111' : '#52606d', weight: chosen ? 3 : 1, dashArray: wb.selected.has(code) ? '6 4' : null,
      fillColor: unitColour(unitValue(f.properties)), fillOpacity: 0.3,
    };
  }

  function restyleUnits() {
    for (const layer of Object.values(wb.unitLayers || {})) layer.setStyle(unitStyle(layer.feature));
  }

  function drawLegend() {
    const box = $('legend');
    if (!box) return;
    box.replaceChildren();
    if (state.layers.has('gaps') && wb.gapBreaks !== undefined && wb.data.gaps && wb.data.gaps.features.length) {
      box.append(el('strong', {}, t('legendGaps')), el('br'));
      const cuts = wb.gapBreaks;
      const edges = [0, ...cuts];
      edges.forEach((low, i) => {
        const high = i < cuts.length ? cuts[i] : null;
        const label = high === null ? `≥ ${people(low)}` : `${people(low)} – ${people(high)}`;
        box.append(el('i', { style: `background:${REDS[i]}` }), label, el('br'));
      });
    }
    if (state.layers.has('units') && wb.data.units) {
      const option = $('colour').selectedOptions[0];
      box.append(el('strong', {}, `${t('legendUnits')}: ${option ? option.textContent : ''}`), el('br'));
      let scale;
      if (state.colour === 'missing') {
        const most = Math.max(1, ...wb.data.units.features.map((f) => f.properties.missing_count || 0));
        scale = most >= 2
          ? [[GREENS_TO_REDS[0], '0'], [GREENS_TO_REDS[2], String(Math.round(most / 2))], [GREENS_TO_REDS[4], String(most)]]
          : [[GREENS_TO_REDS[0], '0'], [GREENS_TO_REDS[4], String(most)]];
      } else if (state.colour === 'share') {
        scale = [[GREENS_TO_REDS[0], '≥ 80%'], [GREENS_TO_REDS[2], '40–60%'], [GREENS_TO_REDS[4], '< 20%']];
      } else {
        scale = [['#1a9850', t('met')], ['#d73027', t('notMet')], ['#cbd2d9', t('notComputable')]];
      }
      for (const [colour, label] of scale) box.append(el('i', { style: `background:${colour}` }), label, el('br'));
    }
  }

  function drawLayerSummary() {
    const box = $('summary');
    const gaps = wb.data.gaps.features;
    const gapPeople = gaps.reduce((s, f) => s + f.properties.population, 0);
    const iso = wb.data.isochrones.features;
    const area = iso.reduce((s, f) => s + (f.properties.area_km2 || 0), 0);
    const chosen = wb.data.report && wb.data.report.at;
    const open = state.at ? wb.data.facilities.features.length : null;
    box.replaceChildren(...[
      el('h2', {}, `${categoryName(state.category)} · ${thresholdText(state.threshold)} · ${profileName(profileOf())}`),
      state.at && chosen ? el('p', { id: 'summary-at', dataset: { open: chosen.facilities_open, total: chosen.facilities, assumed: chosen.assumed_open } },
        t('atOpen', state.at, chosen.facilities_open, chosen.facilities, chosen.assumed_open)) : null,
      state.at && !chosen ? el('p', { id: 'summary-at', dataset: { open } }, `${state.at}: ${t('facilityCount', open)}`) : null,
      el('p', { id: 'layer-summary' },
        el('span', { id: 'summary-facilities', dataset: { value: wb.data.facilities.features.length } }, t('facilityCount', wb.data.facilities.features.length)), sep(),
        el('span', { id: 'summary-isochrones', dataset: { value: area } }, t('isoArea', fixed(area, 2))), sep(),
        el('span', { id: 'summary-gaps', dataset: { value: gapPeople, count: gaps.length } }, t('gapCount', gaps.length, people(gapPeople)))),
    ].filter((node) => node !== null)); // replaceChildren would write a null as "null"
  }

  /** Show an answer in the details section and bring it into view. */
  function showDetails(...nodes) {
    const box = $('details');
    box.replaceChildren(...nodes.filter((node) => node !== null));
    box.scrollIntoView({ block: 'start' });
  }

  // ------------------------------------------------------------------ a unit
  async function selectUnit(code) {
    state.unit = code;
    $('unit').value = code;
    restyleUnits();
    saveUrl();
    await guarded(() => showUnit(code));
  }

  async function showUnit(code) {
    if (!code) {
      $('details').replaceChildren();
      return;
    }
    const data = await api(withHours(studyPath(`/units/${encodeURIComponent(code)}`)));
    wb.data.unit = data;
    const u = data.unit;
    const rows = [];
    for (const i of wb.data.report.indicators) {
      rows.push(indicatorRow(i, u));
    }
    const serving = data.serving.map((s) => {
      const minutes = s.cost_unit === 's' ? s.median / 60 : s.median;
      return el('tr', { dataset: { category: s.category, id: s.id } },
        el('td', {}, categoryName(s.category)),
        el('td', {}, s.name || t('unnamed')),
        el('td', { className: 'num', dataset: { value: s.homes } }, String(s.homes)),
        el('td', { className: 'num', dataset: { value: s.median } },
          s.cost_unit === 's' ? `${fixed(minutes)} ${t('minutesUnit')}` : `${fixed(minutes, 0)} ${t('metresUnit')}`),
        el('td', { className: s.within ? 'met' : 'not-met' }, s.within ? '✓' : '✗'));
    });
    const kind = u.unit_kind === 'urban' ? t('urban') : u.unit_kind === 'village' ? t('village') : u.unit_kind;
    showDetails(
      el('h2', { className: 'unit-name' }, u.unit_name),
      el('p', {},
        `${t('kind')}: ${kind || '–'}${sep()}${t('township')}: ${u.township || '–'}${sep()}`,
        el('span', { id: 'unit-residents', dataset: { value: u.residents } }, `${t('residents')} ${people(u.residents)}`),
        u.households ? `${sep()}${t('households')} ${people(u.households)}` : '', `${sep()}${t('homes')} ${u.homes}`),
      el('h3', {}, t('missingTitle', data.missing.length)),
      data.missing.length
        ? el('ul', { className: 'missing', id: 'unit-missing' }, data.missing.map((m) => el('li', { dataset: { category: m.category } }, state.lang === 'zh' ? m.name_zh : m.name_en)))
        : el('p', { id: 'unit-missing' }, t('complete')),
      el('h3', {}, t('indicators')),
      el('table', { id: 'unit-indicators' },
        el('thead', {}, el('tr', {}, el('th', {}, t('indicator')), el('th', { className: 'num' }, t('value')), el('th', { className: 'num' }, t('target')), el('th', {}, t('status')))),
        el('tbody', {}, rows)),
      el('h3', {}, t('serving')),
      el('table', { id: 'unit-serving' },
        el('thead', {}, el('tr', {}, el('th', {}, t('kindCol')), el('th', {}, t('name')), el('th', { className: 'num' }, t('homes')), el('th', { className: 'num' }, t('time')), el('th', {}, t('within')))),
        el('tbody', {}, serving)),
      el('p', { className: 'hint' }, t('inside', data.facilities.length), '。', t('judgedNote')),
      (data.unplaced || []).length ? el('div', { id: 'unit-unplaced' },
        el('h3', {}, t('unplacedTitle', data.unplaced.length)),
        el('ul', {}, data.unplaced.map((f) => el('li', { dataset: { id: f.id, status: f.status } },
          `${categoryName(f.category)} · ${f.name || f.id}${state.lang === 'zh' ? '：' : ': '}${t(`unplaced_${f.status}`, f.max_access_m)}`)))) : null,
    );
  }

  function indicatorRow(indicator, u) {
    const value = u[indicator.key];
    const met = u[`${indicator.key}.met`];
    const share = String(indicator.unit).startsWith('share');
    const noTarget = indicator.target === null || indicator.target === undefined;
    let shownValue;
    if (value === null || value === undefined) shownValue = '–';
    else if (typeof value === 'boolean') shownValue = value ? t('yes') : t('no');
    else if (share) shownValue = percent(value); // a share reads as the target does: 70.0%
    else shownValue = `${fixed(value)} ${state.lang === 'zh' ? indicator.unit_zh || indicator.unit : indicator.unit}`;
    // the verdict is the server's (met / not met against the target), never guessed here
    let verdict;
    if (met === true) verdict = ['met', t('met')];
    else if (met === false) verdict = ['not-met', t('notMet')];
    else if (value === null || value === undefined) verdict = ['unknown', t('notComputable')];
    else verdict = ['unknown', noTarget ? t('noTarget') : t('notComputable')];
    const target = indicator.target === null || indicator.target === undefined ? '–'
      : share ? percent(indicator.target) : String(indicator.target);
    return el('tr', { dataset: { key: indicator.key } },
      el('td', {}, state.lang === 'zh' ? indicator.name_zh : indicator.name_en),
      el('td', { className: 'num', dataset: { value: value === null || value === undefined ? '' : String(value) } }, shownValue),
      el('td', { className: 'num' }, target),
      el('td', { className: verdict[0] }, verdict[1]));
  }

  // ------------------------------------------------------------------ a point's reach
  async function reachFrom(latlng) {
    const answer = await api(studyPath('/reach'), {
      body: { lon: latlng.lng, lat: latlng.lat, ...thresholdBody(), profile: profileOf(), ...hoursParams() },
    });
    wb.data.reach = answer;
    const group = layerGroups.reach;
    group.clearLayers();
    const area = answer.features.find((f) => f.properties.kind === 'reach_area');
    if (area && area.geometry) {
      L.geoJSON(area, { pane: 'reach', interactive: false, style: { color: '#111', weight: 2, fillColor: '#ffd166', fillOpacity: 0.3 } }).eachLayer((l) => group.addLayer(l));
    }
    group.addLayer(L.marker(latlng, { icon: L.divIcon({ className: 'reach-origin', iconSize: [12, 12] }), keyboard: false }));
    const nearest = new Map();
    for (const f of answer.features) {
      if (f.properties.kind !== 'facility') continue;
      const p = f.properties;
      const cost = p.time_s !== undefined && p.time_s !== null ? p.time_s : p.distance_m;
      const known = nearest.get(p.category);
      if (!known || cost < known.cost) nearest.set(p.category, { cost, name: p.name, id: p.id });
    }
    const within = thresholdText(state.threshold);
    const rows = wb.data.study.categories.map((key) => {
      const hit = nearest.get(key);
      const text = hit === undefined ? t('notReached', within)
        : state.threshold.startsWith('m:') ? `${fixed(hit.cost, 0)} ${t('metresUnit')}` : `${fixed(hit.cost / 60)} ${t('minutesUnit')}`;
      return el('tr', { dataset: { category: key, value: hit === undefined ? '' : hit.cost } },
        el('td', {}, categoryName(key)),
        el('td', {}, hit === undefined ? '' : hit.name || t('unnamed')),
        el('td', { className: hit === undefined ? 'num not-met' : 'num' }, text));
    });
    showDetails(
      el('h2', {}, t('reachTitle', within)),
      el('p', {}, `${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)}${sep()}`, area ? t('reachArea', fixed(area.properties.area_km2, 2)) : ''),
      el('table', { id: 'reach-table' },
        el('thead', {}, el('tr', {}, el('th', {}, t('kindCol')), el('th', {}, t('nearest')), el('th', { className: 'num' }, t('time')))),
        el('tbody', {}, rows)),
    );
  }

  // ------------------------------------------------------------------ areas
  const drawn = [];
  let drawLine = null;

  function addVertex(latlng) {
    drawn.push(latlng);
    if (drawLine) layerGroups.draw.removeLayer(drawLine);
    drawLine = drawn.length >= 3 ? L.polygon(drawn, { color: '#7b2cbf', weight: 2, fillOpacity: 0.1, interactive: false })
      : L.polyline(drawn, { color: '#7b2cbf', weight: 2, interactive: false });
    layerGroups.draw.addLayer(drawLine);
    layerGroups.draw.addLayer(L.circleMarker(latlng, { radius: 4, color: '#7b2cbf', interactive: false }));
  }

  function clearDrawing() {
    drawn.length = 0;
    drawLine = null;
    layerGroups.draw.clearLayers();
  }

  async function finishDrawing() {
    if (drawn.length < 3) {
      showError(new Error(t('drawTooFew')));
      return;
    }
    const ring = drawn.map((p) => [p.lng, p.lat]);
    ring.push(ring[0]);
    wb.data.drawn = { type: 'Polygon', coordinates: [ring] };
    await summarise(wb.data.drawn, t('nbhdTitle'));
  }

  function togglePicked(code) {
    if (wb.selected.has(code)) wb.selected.delete(code); else wb.selected.add(code);
    restyleUnits();
  }

  async function summarisePicked() {
    if (!wb.selected.size) {
      showError(new Error(t('pickNone')));
      return;
    }
    const polygons = [];
    for (const f of wb.data.units.features) {
      if (!wb.selected.has(f.properties.unit_code) || !f.geometry) continue;
      if (f.geometry.type === 'Polygon') polygons.push(f.geometry.coordinates);
      else polygons.push(...f.geometry.coordinates);
    }
    wb.data.picked = { type: 'MultiPolygon', coordinates: polygons };
    await summarise(wb.data.picked, t('pickedTitle', wb.selected.size));
  }

  async function summarise(geometry, title) {
    const [unit, value] = state.threshold.split(':');
    const minutes = unit === 'min' ? [Number(value)] : [5, 10, 15];
    const request = { geometry, minutes, categories: wb.data.study.categories, ...hoursParams() };
    if (state.profile) request.profile = state.profile;
    const answer = await api(studyPath('/neighbourhood'), { body: request });
    wb.data.neighbourhood = { request, answer };
    const rows = answer.coverage.map((r) => el('tr', { dataset: { category: r.category, threshold: r.threshold, value: r.share } },
      el('td', {}, state.lang === 'zh' ? r.name_zh : r.name_en),
      el('td', { className: 'num' }, t('minutes', r.threshold)),
      el('td', { className: 'num' }, percent(r.share))));
    const worst = Object.entries(answer.completeness.missing_share || {})
      .filter(([, share]) => share > 0).sort((a, b) => b[1] - a[1]).slice(0, 5);
    showDetails(
      el('h2', {}, title),
      el('p', { id: 'nbhd-summary' },
        el('span', { dataset: { field: 'population', value: answer.population } }, `${t('population')} ${people(answer.population)}`), sep(),
        el('span', { dataset: { field: 'homes', value: answer.homes } }, `${t('homes')} ${answer.homes}`), sep(),
        el('span', { dataset: { field: 'completeness', value: answer.completeness.score === null ? '' : answer.completeness.score } },
          `${t('completeness')} ${percent(answer.completeness.score)}`), sep(),
        el('span', { dataset: { field: 'basic', value: answer.basic.score === null ? '' : answer.basic.score } },
          `${t('basicScore')} ${percent(answer.basic.score)}`)),
      answer.note ? el('p', { className: 'hint' }, answer.note) : null,
      worst.length ? el('p', {}, `${t('mostMissing')}: `, worst.map(([k, s]) => `${categoryName(k)} ${percent(s)}`).join('，')) : null,
      el('table', { id: 'nbhd-table' },
        el('thead', {}, el('tr', {}, el('th', {}, t('kindCol')), el('th', { className: 'num' }, t('threshold')), el('th', { className: 'num' }, t('coverage')))),
        el('tbody', {}, rows)),
    );
  }

  // ------------------------------------------------------------------ siting
  async function runSiting() {
    const n = Math.round(Number($('site-n').value));
    const request = { category: state.category, p: n, ...thresholdBody(), gaps_after: true, ...hoursParams() };
    request.profile = profileOf();
    const answer = await api(studyPath('/siting'), { body: request });
    wb.data.siting = answer;
    layerGroups.sites.clearLayers();
    layerGroups.gapsAfter.clearLayers();
    for (const f of answer.features) {
      const [lon, lat] = f.geometry.coordinates;
      const icon = L.divIcon({ className: 'site-icon', html: el('span', {}, String(f.properties.rank)), iconSize: [24, 24] });
      const marker = L.marker([lat, lon], { icon, pane: 'sites', keyboard: false });
      marker.bindTooltip(tooltip(`${t('rank')} ${f.properties.rank}`, `${t('gain')} ${people(f.properties.marginal_population)}`));
      layerGroups.sites.addLayer(marker);
    }
    L.geoJSON(answer.gaps_after, {
      pane: 'gaps', interactive: false,
      style: { color: '#7b2cbf', weight: 2, dashArray: '5 4', fill: false },
    }).eachLayer((l) => layerGroups.gapsAfter.addLayer(l));
    const s = answer.summary;
    const after = answer.gaps_after.features;
    const afterPeople = after.reduce((sum, f) => sum + f.properties.population, 0);
    $('site-export').disabled = false;
    showDetails(
      el('h2', {}, t('sitesTitle', s.sites, categoryName(state.category))),
      el('p', { id: 'site-coverage', dataset: { before: s.share_before, after: s.share_after } },
        `${t('coverBefore')} ${percent(s.share_before)} → ${t('coverAfter')} ${percent(s.share_after)}`,
        ` (${people(s.covered_before)} → ${people(s.covered_after)} ${t('people')}; ${s.model}, ${s.status})`),
      el('table', { id: 'sites-table' },
        el('thead', {}, el('tr', {}, el('th', {}, t('rank')), el('th', { className: 'num' }, t('gain')), el('th', {}, t('lonLat')))),
        el('tbody', {}, answer.features.map((f) => el('tr', { dataset: { rank: f.properties.rank, value: f.properties.marginal_population } },
          el('td', {}, String(f.properties.rank)),
          el('td', { className: 'num' }, people(f.properties.marginal_population)),
          el('td', {}, `${f.geometry.coordinates[0].toFixed(6)}, ${f.geometry.coordinates[1].toFixed(6)}`))))),
      el('p', { id: 'gaps-after', dataset: { count: after.length, value: afterPeople } },
        `${t('gapsAfter')}: ${t('gapCount', after.length, people(afterPeople))}`),
    );
  }

  // ------------------------------------------------------------------ downloads
  function download(name, data) {
    const blob = new Blob([JSON.stringify(data)], { type: 'application/geo+json' });
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function currentLayers() {
    const features = [];
    const add = (name, collection) => {
      if (!collection || !state.layers.has(name)) return;
      for (const f of collection.features) features.push({ ...f, properties: { ...f.properties, layer: name } });
    };
    add('facilities', wb.data.facilities);
    add('isochrones', wb.data.isochrones);
    add('gaps', wb.data.gaps);
    add('units', wb.data.units);
    if (wb.data.siting) {
      for (const f of wb.data.siting.features) features.push({ ...f, properties: { ...f.properties, layer: 'sites' } });
    }
    return { type: 'FeatureCollection', features, study: state.study, category: state.category,
             threshold: state.threshold, profile: profileOf(), attribution: wb.data.study.attribution };
  }

  // ------------------------------------------------------------------ wiring
  function wire() {
    $('lang').addEventListener('click', () => guarded(async () => {
      state.lang = state.lang === 'zh' ? 'en' : 'zh';
      applyWords();
      fillStudies();
      fillCategories();
      fillThresholds();
      fillProfiles();
      fillColours();
      fillUnits();
      drawLegend();
      setReportLinks();
      fillMoments();
      saveUrl();
      drawLayerSummary();
      drawFacilities();
      drawUnits();
      if (state.unit) await showUnit(state.unit);
    }));
    $('study').addEventListener('change', (e) => guarded(async () => {
      state.study = e.target.value;
      state.unit = '';
      wb.selected.clear();
      state.view = '';
      resetResults();
      saveUrl();
      await loadStudy();
      saveUrl();
    }));
    $('category').addEventListener('change', (e) => guarded(async () => {
      state.category = e.target.value;
      state.threshold = '';
      fillThresholds();
      fillProfiles();
      fillColours();
      updateSiteButton();
      resetResults();
      saveUrl();
      await loadCategoryLayers();
      restyleUnits();
    }));
    $('threshold').addEventListener('change', (e) => guarded(async () => {
      state.threshold = e.target.value;
      saveUrl();
      await loadCategoryLayers();
    }));
    const changeMoment = (value) => guarded(async () => {
      state.at = value.trim();
      fillMoments();
      setReportLinks();
      resetResults();
      saveUrl();
      await Promise.all([loadUnits(), loadCategoryLayers()]);
      if (wb.data.facilities) drawLayerSummary();
    });
    $('at').addEventListener('change', (e) => { $('at-custom').value = ''; changeMoment(e.target.value); });
    $('at-custom').addEventListener('change', (e) => changeMoment(e.target.value));
    $('unknown-open').addEventListener('change', (e) => guarded(async () => {
      state.unknownOpen = e.target.checked;
      saveUrl();
      setReportLinks();
      if (state.at) await Promise.all([loadUnits(), loadCategoryLayers()]);
      if (wb.data.facilities) drawLayerSummary();
    }));
    $('profile').addEventListener('change', (e) => guarded(async () => {
      state.profile = e.target.value;
      saveUrl();
      await loadCategoryLayers();
    }));
    for (const box of document.querySelectorAll('input[data-layer]')) {
      box.checked = state.layers.has(box.dataset.layer);
      box.addEventListener('change', () => {
        if (box.checked) state.layers.add(box.dataset.layer); else state.layers.delete(box.dataset.layer);
        showLayer(box.dataset.layer, box.checked && (box.dataset.layer !== 'units' || !!wb.data.units));
        drawLegend();
        saveUrl();
      });
    }
    $('colour').addEventListener('change', (e) => {
      state.colour = e.target.value;
      restyleUnits();
      drawLegend();
      saveUrl();
    });
    $('unit').addEventListener('change', (e) => {
      if (e.target.value) {
        selectUnit(e.target.value);
        const layer = wb.unitLayers[e.target.value];
        if (layer) map.fitBounds(layer.getBounds(), { maxZoom: 17 });
      }
    });
    for (const b of document.querySelectorAll('[data-tool]')) b.addEventListener('click', () => setTool(b.dataset.tool));
    $('draw-finish').addEventListener('click', () => guarded(finishDrawing));
    $('draw-clear').addEventListener('click', clearDrawing);
    $('pick-summary').addEventListener('click', () => guarded(summarisePicked));
    $('pick-clear').addEventListener('click', () => { wb.selected.clear(); restyleUnits(); });
    $('site-n').addEventListener('input', updateSiteButton);
    $('site-run').addEventListener('click', () => guarded(runSiting));
    $('site-export').addEventListener('click', () => {
      if (wb.data.siting) download(`sites-${state.study}-${state.category}.geojson`, { ...wb.data.siting, gaps_after: undefined });
    });
    $('dl-layers').addEventListener('click', () => download(`layers-${state.study}-${state.category}.geojson`, currentLayers()));
    $('cancel').addEventListener('click', cancelAll);
    map.on('click', (e) => {
      if (state.tool === 'reach') guarded(() => reachFrom(e.latlng));
      else if (state.tool === 'draw') addVertex(e.latlng);
    });
    map.on('moveend', () => { if (wb.ready) saveUrl(); });
    document.addEventListener('keydown', (e) => {
      if (state.tool !== 'draw' || e.target.closest('input, select, textarea')) return;
      if (e.key === 'Enter') guarded(finishDrawing);
      if (e.key === 'Escape') clearDrawing();
    });
  }

  function resetResults() {
    for (const name of ['reach', 'sites', 'gapsAfter', 'draw']) layerGroups[name].clearLayers();
    clearDrawing();
    wb.data.siting = null;
    $('site-export').disabled = true;
    $('details').replaceChildren();
  }

  async function start() {
    applyWords();
    fillMoments();
    wire();
    setTool(state.tool);
    const [studies, profiles, zh, en] = await Promise.all([
      api('/studies'), api('/profiles'), api('/categories?lang=zh'), api('/categories?lang=en'),
    ]);
    wb.data.studies = studies;
    wb.data.profiles = profiles;
    wb.data.categories = {};
    zh.forEach((c, i) => {
      wb.data.categories[c.key] = { ...c, level_name_zh: c.level_name, level_name_en: en[i].level_name };
    });
    const available = studies.filter((s) => s.status === 'available');
    if (!available.length) {
      fillStudies();
      throw new Error(t('noStudies'));
    }
    if (!available.some((s) => s.id === state.study)) state.study = available[0].id;
    fillStudies();
    await loadStudy();
  }

  guarded(start).finally(() => {
    wb.ready = true;
    saveUrl();
  });
})();
