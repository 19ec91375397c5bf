// medledger portal: patient wallet, hospital desk, payer desk, explorer and receipt check.
//
// Talks only to this node's public REST API and event stream. Keys stay in this tab
// (sessionStorage, cleared when the tab closes): transactions are signed here and bill bodies
// are sealed, opened and disclosed here (crypto.js). The node encodes unsigned transaction
// bodies (POST /v1/txs/encode); the browser signs the bytes and submits them.

import * as C from './crypto.js';

const NS_TX = 'medledger/tx/v1';
const NS_REQUEST = 'medledger/api-request/v1';
const REQUEST_TIMEOUT_MS = 15000;
const COMMIT_WAIT_MS = 12000;
const TX_LIFETIME_BLOCKS = 1000;
const CATEGORIES = ['consultation', 'examination', 'imaging', 'treatment', 'surgery',
  'western_medicine', 'chinese_medicine', 'materials', 'bed', 'other'];
const VISIT_TYPES = ['outpatient', 'inpatient', 'registration', 'check_up'];
const PAYER_ROLES = ['social_security', 'insurer'];
/** A validator is shown missing (red) only when no certificate has carried its signature for
 * this many finalized blocks: with 4 validators a quorum is 3, so one left out of a single
 * certificate is normal (its vote arrived after the quorum formed). */
const VALIDATOR_ABSENT_BLOCKS = 10;
/** Blocks the explorer replays from the event stream when it opens (for its table and chart). */
const EXPLORER_HISTORY_BLOCKS = 1000;

// What people read instead of the codes the API speaks.
const CATEGORY_NAMES = {
  consultation: 'Consultation', examination: 'Examinations and tests', imaging: 'Imaging',
  treatment: 'Treatment', surgery: 'Surgery', western_medicine: 'Western medicine',
  chinese_medicine: 'Chinese medicine', materials: 'Medical materials', bed: 'Bed', other: 'Other',
};
const VISIT_NAMES = { outpatient: 'Outpatient visit', inpatient: 'Inpatient stay', registration: 'Registration', check_up: 'Health check-up' };
const ROLE_NAMES = {
  hospital: 'hospital', regulator: 'regulator', social_security: 'social security bureau',
  insurer: 'insurer', payment_platform: 'payment platform',
};
/** Common payment channels, offered as suggestions; the field is free text, as in the CLI. */
const CHANNEL_NAMES = {
  cash: 'Cash', wechat_pay: 'WeChat Pay', alipay: 'Alipay', bank_card: 'Bank card',
  union_pay: 'UnionPay', medical_insurance_card: 'Medical insurance card',
};
const TX_NAMES = {
  allocate_range: 'Allocate bill numbers', issue_bills: 'Issue bills', void_bill: 'Void a bill',
  submit_claim: 'File a claim', settle_claim: 'Settle a claim', reject_claim: 'Reject a claim',
  withdraw_claim: 'Withdraw a claim', register_patient: 'Register a patient',
  freeze_member: 'Freeze a member', unfreeze_member: 'Unfreeze a member',
  access_body: 'Read a bill\'s details (recorded)', register_policy: 'Register a claim policy',
  record_payment: 'Record a payment',
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const $ = (sel, root = document) => root.querySelector(sel);
const view = () => $('#view');

/** Escapes text for HTML. Everything from the API or a file goes through this. */
function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** Fen (integer) as yuan text. */
function yuan(fen) {
  const n = BigInt(fen ?? 0);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  return `${sign}¥${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** Yuan text ("970", "970.5", "970.00") as integer fen; throws on anything else. */
function parseYuan(text, field) {
  const t = String(text ?? '').trim();
  const m = /^(\d{1,14})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) throw new Error(`${field}: "${t}" is not an amount in yuan (like 970.00)`);
  return Number(BigInt(m[1]) * 100n + BigInt((m[2] ?? '').padEnd(2, '0')));
}

function time(ms) {
  return ms ? new Date(Number(ms)).toLocaleString() : '';
}

/** Sets the HTML of `sel` if it is still on the page (a live update may land after the user
 * has moved on). */
function put(sel, html) {
  const el = $(sel);
  if (el) el.innerHTML = html;
  return el;
}

function toast(message) {
  const el = $('#toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 8000);
}

function badge(text, cls = text) {
  return `<span class="badge ${esc(cls)}">${esc(text)}</span>`;
}

/** A code's name from `names`, or the code in words when it is not one we know. */
function named(names, code) {
  return names[code] ?? String(code ?? '').replaceAll('_', ' ');
}

const categoryName = (code) => named(CATEGORY_NAMES, code);
const visitName = (code) => named(VISIT_NAMES, code);
const channelName = (code) => named(CHANNEL_NAMES, code);
const roleNames = (roles) => roles.map((r) => named(ROLE_NAMES, r)).join(' and ');

/** A member's name from genesis (GET /v1/members), or its id while the list is not loaded. */
function memberName(id) {
  return membersCache?.find((m) => m.id === id)?.name ?? String(id ?? '');
}

/** A long identifier (pseudonym, claim, key, digest) shortened, with its whole value in a
 * tooltip and a button that copies it. */
function ident(value, what = 'identifier') {
  const full = String(value ?? '');
  const short = full.length > 14 ? `${full.slice(0, 8)}…${full.slice(-4)}` : full;
  return `<span class="ident" title="${esc(full)}"><code>${esc(short)}</code><button type="button" class="copy" data-copy="${esc(full)}" aria-label="Copy the whole ${esc(what)}">Copy</button></span>`;
}

/** Copies text to the clipboard: the Clipboard API where the browser grants it, else a
 * selected scratch text area and the older copy command. */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch { /* no permission (an unfocused or automated tab): fall back */ }
  const scratch = document.createElement('textarea');
  scratch.className = 'offscreen';
  scratch.value = text;
  document.body.appendChild(scratch);
  scratch.select();
  const copied = document.execCommand('copy');
  scratch.remove();
  if (!copied) throw new Error('the browser did not allow copying; select the text instead');
}

// Copy buttons anywhere on the page; in the capture phase, so that a copy button inside a
// clickable row copies and does not also open the row.
document.addEventListener('click', (ev) => {
  const button = ev.target.closest?.('button.copy');
  if (!button) return;
  ev.stopPropagation();
  ev.preventDefault();
  copyText(button.dataset.copy).then(() => {
    button.textContent = 'Copied';
    button.classList.add('done');
    setTimeout(() => { button.textContent = 'Copy'; button.classList.remove('done'); }, 1500);
  }, (e) => toast(e.message));
}, true);

function randomHex(bytes) {
  return C.hex(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A 48-bit random nonce: unique enough per signer, and exact as a JSON number. */
function randomNonce() {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return b.reduce((n, x) => n * 256 + x, 0);
}

/** Runs `work` with `button` disabled and a result line under it; errors are shown, never
 * swallowed, and the button always comes back. */
async function busy(button, out, work) {
  button.disabled = true;
  if (out) { out.className = 'result info'; out.textContent = 'Working…'; out.hidden = false; }
  try {
    await work();
  } catch (e) {
    if (out) { out.className = 'result bad'; out.textContent = e.message; } else { toast(e.message); }
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    // A node that did not answer has no code of its own to show (status 0).
    super(code && status > 0 ? `${code}: ${message}` : message);
    this.status = status;
    this.code = code;
    // The API's own words, without the code.
    this.detail = message;
  }
}

/** One request; JSON in and out, a bounded wait, and the API's {code, message} as the error. */
async function api(method, path, { json, body, headers = {}, timeout = REQUEST_TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const init = { method, headers: { ...headers }, signal: controller.signal };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw new ApiError(0, 'timeout', `${method} ${path}: no answer within ${timeout / 1000} s`);
    throw new ApiError(0, 'unreachable', `${method} ${path}: the node did not answer (${e.message})`);
  } finally {
    clearTimeout(timer);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    if (data && typeof data === 'object' && data.code) throw new ApiError(response.status, data.code, data.message);
    throw new ApiError(response.status, `http_${response.status}`, String(text).slice(0, 200));
  }
  return data;
}

let chainCache = null;
async function chain() {
  if (!chainCache) chainCache = await api('GET', '/v1/status');
  return chainCache;
}

let membersCache = null;
async function members() {
  if (!membersCache) membersCache = await api('GET', '/v1/members');
  return membersCache;
}

/** Signs `body` (a TxBody's JSON without signer, chain or expiry) and submits it, waiting for
 * the commit. Returns the committed receipt; a rejection throws with the ledger's reason. */
async function transact(key, payload) {
  const status = await api('GET', '/v1/status');
  const txBody = {
    chain_id: status.chain_id,
    signer: key.publicKey,
    nonce: randomNonce(),
    expires_at_height: status.height + TX_LIFETIME_BLOCKS,
    payload,
  };
  const encoded = await api('POST', '/v1/txs/encode', { json: txBody });
  const bytes = C.unhex(encoded.body);
  const signature = await key.sign(encoded.namespace, bytes);
  const envelope = C.concat(bytes, signature);
  const answer = await api('POST', '/v1/txs?wait=commit', {
    body: envelope,
    headers: { 'content-type': 'application/octet-stream' },
    timeout: COMMIT_WAIT_MS + 3000,
  });
  if (!answer.committed) {
    throw new Error(`transaction ${answer.tx_id} is still pending after ${COMMIT_WAIT_MS / 1000} s; it may commit later`);
  }
  const outcome = answer.committed.receipt.outcome;
  if (outcome.rejected) {
    const refused = new Error(`${describeRejection(outcome.rejected).replace(/^t/, 'T')}.`);
    refused.code = outcome.rejected.code;
    throw refused;
  }
  return { txId: answer.tx_id, height: answer.committed.height, effect: outcome.accepted };
}

/** A ledger rejection in words. An over-claim names the same amounts the bill page shows
 * (paid, reimbursed, reserved, still claimable); any other rejection lists its fields, amounts
 * in yuan and members by name. */
function describeRejection(rejection) {
  if (rejection.code === 'over_claim') {
    const paid = Number(rejection.claimable);
    const left = Math.max(paid - Number(rejection.reserved) - Number(rejection.reimbursed), 0);
    return `the ledger refused it: ${yuan(rejection.requested)} asked exceeds the ${yuan(left)} still claimable on bill ${rejection.bill} `
      + `(the patient paid ${yuan(paid)}; ${yuan(rejection.reimbursed)} already reimbursed, ${yuan(rejection.reserved)} reserved by claims in progress)`;
  }
  const fields = Object.entries(rejection).filter(([k]) => k !== 'code');
  const text = fields.map(([k, v]) => {
    let value = v;
    if (typeof v === 'number' && /amount|claimable|requested|reserved|reimbursed|available|total|paid|fen|approved|released/.test(k)) value = yuan(v);
    else if (/payer|member|issuer|hospital/.test(k) && typeof v === 'string') value = memberName(v);
    else if (Array.isArray(v)) value = v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : x)).join(', ');
    else if (v && typeof v === 'object') value = Object.values(v).join('/');
    return `${k.replaceAll('_', ' ')} ${value}`;
  }).join(', ');
  return `the ledger refused it: ${rejection.code.replaceAll('_', ' ')}${text ? ` (${text})` : ''}`;
}

/** What an accepted transaction did, in words (the receipt's `effect`). */
function describeEffect(effect) {
  const e = effect ?? {};
  switch (e.effect) {
    case 'range_allocated': return 'bill numbers allocated';
    case 'bills_issued': return `${e.count} bill${e.count === 1 ? '' : 's'} issued`;
    case 'bill_voided': return `bill ${e.bill} voided by red bill ${e.red_bill}`;
    case 'claim_locked': return `claim filed, ${yuan(e.reserved)} reserved on the bills`;
    case 'claim_auto_settled': return `claim settled at once by the payer's policy: ${yuan(e.paid)} paid of ${yuan(e.requested)} asked`;
    case 'policy_registered': return `${memberName(e.payer)}'s claim policy version ${e.version} in force`;
    case 'payment_recorded': return 'payment recorded';
    case 'claim_settled': return `claim settled: ${yuan(e.approved)} paid`;
    case 'claim_rejected': return `claim rejected: ${yuan(e.released)} released`;
    case 'claim_withdrawn': return `claim withdrawn: ${yuan(e.released)} released`;
    case 'patient_registered': return 'patient registered';
    case 'body_accessed': return `reading of bill ${e.bill}'s details recorded`;
    case 'member_frozen': return 'member frozen';
    case 'member_unfrozen': return 'member unfrozen';
    default: return String(e.effect ?? 'accepted').replaceAll('_', ' ');
  }
}

/** GET of private data, signed with `key` as the API asks (method, path, time, chain). */
async function signedGet(key, path) {
  const { chain_id: chainId } = await chain();
  const now = Date.now();
  const message = C.utf8(`GET\n${path}\n${now}\n${chainId}`);
  const signature = await key.sign(NS_REQUEST, message);
  return api('GET', path, {
    headers: {
      'x-medledger-key': key.publicKey,
      'x-medledger-time': String(now),
      'x-medledger-signature': C.hex(signature),
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Keys: a member key file ({scheme, public_key, secret_key}) or a demo patient entry
// ({pseudonym, public_key, secret_key, …}, or the whole keys/patients.json list).

/** Parses pasted or uploaded key text into the entries it holds. Error messages never quote
 * the text: it holds a secret. */
function keyEntries(text) {
  let data;
  try { data = JSON.parse(text); } catch { throw new Error('the key is not JSON: choose or paste a key file (…key.json), or keys/patients.json'); }
  const list = Array.isArray(data) ? data : [data];
  for (const entry of list) {
    if (!entry || typeof entry.secret_key !== 'string' || !/^[0-9a-fA-F]{64}$/.test(entry.secret_key)) {
      throw new Error('a key needs "secret_key": 64 hex digits (a 32-byte ed25519 seed)');
    }
  }
  if (list.length === 0) throw new Error('the list holds no keys');
  return list;
}

/** What is kept of an entry: its secret and the public fields that name it; a demo patient's
 * wallet seed, which the portal does not use, is left behind. */
function keptEntry(entry) {
  const kept = { secret_key: entry.secret_key };
  for (const field of ['public_key', 'pseudonym', 'institution']) if (typeof entry[field] === 'string') kept[field] = entry[field];
  return kept;
}

/** The usable key of one entry: signs, and for a patient opens bodies. */
async function loadKey(entry) {
  const seed = C.unhex(entry.secret_key);
  const signer = await C.SigningKey.fromSeed(seed);
  const publicKey = C.hex(signer.publicKey);
  if (entry.public_key && entry.public_key.toLowerCase() !== publicKey) {
    throw new Error('the public key in the file does not belong to its secret key');
  }
  const encryption = await C.encryptionFromSigningSeed(seed);
  return {
    entry: keptEntry(entry),
    publicKey,
    pseudonym: C.hex(await C.pseudonymOf(signer.publicKey)),
    encryption,
    sign: (namespace, bytes) => signer.sign(namespace, bytes),
  };
}

const keys = {};

async function restoreKey(desk) {
  if (keys[desk]) return keys[desk];
  const saved = sessionStorage.getItem(`medledger.key.${desk}`);
  if (!saved) return null;
  try {
    keys[desk] = await loadKey(JSON.parse(saved));
  } catch {
    sessionStorage.removeItem(`medledger.key.${desk}`);
  }
  return keys[desk] ?? null;
}

function signOut(desk) {
  delete keys[desk];
  sessionStorage.removeItem(`medledger.key.${desk}`);
  if (desk === 'hospital') keystore.dir = null;
  route();
}

/** "Signed in as …" and the sign-out button, on one line. */
function signedInCard(desk, who) {
  return `<div class="card signed-in"><div>Signed in as ${who}</div><button class="secondary" id="sign-out" data-desk="${esc(desk)}">Sign out</button></div>`;
}

/** The sign-in card of a desk. `check(key)` refuses a key that does not belong there.
 *
 * The key is never displayed: a chosen file is read into memory and not written into the page,
 * and a pasted key goes into a password field. Only public names of the keys are shown. */
function signInCard(desk, title, hint, check) {
  const el = view();
  el.innerHTML = `
    <h1>${esc(title)}</h1>
    <div class="card">
      <p>${hint}</p>
      <div class="grid">
        <label>Choose the key file<input type="file" id="key-file" accept=".json,application/json"></label>
        <label>or paste it (hidden as you paste)<input type="password" id="key-text" autocomplete="off" spellcheck="false" placeholder="{&quot;scheme&quot;:&quot;ed25519&quot;, …}"></label>
      </div>
      <p id="key-chosen" class="muted small" hidden></p>
      <label id="key-choice-label" hidden>Which key<select id="key-choice"></select></label>
      <div class="row"><button id="sign-in">Sign in</button></div>
      <div id="sign-in-result" class="result" hidden></div>
      <p class="muted small">The key stays in this browser tab and is never shown: transactions are signed here and only the signature is sent.</p>
    </div>`;
  const text = $('#key-text');
  const choice = $('#key-choice');
  const chosen = $('#key-chosen');
  let fileText = null;
  const source = () => fileText ?? text.value;
  const refreshChoice = (fileName) => {
    chosen.hidden = true;
    $('#key-choice-label').hidden = true;
    let list;
    try { list = keyEntries(source()); } catch { return; }
    const label = (e, i) => (e.pseudonym ? `Patient ${e.pseudonym.slice(0, 8)}…${e.institution ? ` at ${memberName(e.institution)}` : ''}`
      : e.public_key ? `Key ${e.public_key.slice(0, 8)}…` : `Key ${i + 1}`);
    choice.innerHTML = list.map((e, i) => `<option value="${i}">${esc(label(e, i))}</option>`).join('');
    $('#key-choice-label').hidden = list.length < 2;
    chosen.textContent = `${fileName ? `${fileName}: ` : ''}${list.length === 1 ? label(list[0], 0) : `${list.length} keys, choose one below`} (the secret stays hidden)`;
    chosen.hidden = false;
  };
  text.addEventListener('input', () => {
    fileText = null;
    $('#key-file').value = '';
    refreshChoice();
  });
  $('#key-file').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    fileText = file ? await file.text() : null;
    text.value = '';
    refreshChoice(file?.name);
  });
  const button = $('#sign-in');
  button.addEventListener('click', () => busy(button, $('#sign-in-result'), async () => {
    const list = keyEntries(source());
    const entry = list[Number(choice.value || 0)] ?? list[0];
    const key = await loadKey(entry);
    await check(key);
    keys[desk] = key;
    sessionStorage.setItem(`medledger.key.${desk}`, JSON.stringify(key.entry));
    route();
  }));
}

/** The member a key belongs to, or an error naming what it is not. */
async function memberOf(key, roles, what) {
  const list = await members();
  const member = list.find((m) => m.keys.includes(key.publicKey));
  if (!member) throw new Error(`this key is not a member's key on this network; the ${what} desk needs a ${what}'s key file`);
  if (!member.roles.some((r) => roles.includes(r))) {
    throw new Error(`this is the key of ${member.name}, a ${roleNames(member.roles)}, not a ${what}`);
  }
  return member;
}

// ---------------------------------------------------------------------------------------------
// Live updates: one event stream per page, closed when the page changes.

let stream = null;
function follow(query, onEvent) {
  if (stream) stream.close();
  stream = new EventSource(`/v1/events${query ? `?${query}` : ''}`);
  const kinds = ['bills_issued', 'bill_voided', 'claim_submitted', 'claim_settled', 'claim_rejected',
    'claim_withdrawn', 'payment_recorded', 'policy_registered', 'body_accessed', 'tx_rejected', 'block'];
  for (const kind of kinds) {
    stream.addEventListener(kind, (ev) => {
      try { onEvent(kind, JSON.parse(ev.data)); } catch (e) { console.warn('event', e); }
    });
  }
  stream.addEventListener('error', () => { /* EventSource reconnects by itself, resuming from the last id */ });
}

// ---------------------------------------------------------------------------------------------
// Bills and claims, shared by the desks

function billId(bill) {
  const id = bill.issue.id;
  return typeof id === 'string' ? id : `${id.code}/${id.number}`;
}

function billStatus(bill) {
  if (bill.kind && (bill.kind.kind === 'red' || bill.kind === 'red')) return 'red';
  if (bill.voided_by) return 'voided';
  return 'valid';
}

function claimable(bill) {
  return Number(bill.issue.amounts.patient_pay) - Number(bill.reserved) - Number(bill.reimbursed);
}

function claimStatus(claim) {
  return claim.status.status;
}

function claimTotal(claim) {
  return claim.submission.items.reduce((s, i) => s + Number(i.amount), 0);
}

function approvedTotal(claim) {
  return (claim.status.approved ?? []).reduce((s, a) => s + Number(a), 0);
}

function bodyTable(body) {
  return `
    <dl class="kv details">
      <dt>Patient</dt><dd>${esc(body.patient_name)} · ${esc(body.patient_id)}</dd>
      <dt>Department</dt><dd>${esc(body.department)}</dd>
      <dt>Diagnosis</dt><dd>${esc(body.diagnosis)}</dd>
      <dt>Paid by</dt><dd>${esc(channelName(body.payment_channel))}</dd>
    </dl>
    <div class="table-wrap"><table>
      <tr><th class="hide-narrow">Code</th><th>Item</th><th class="hide-narrow">Category</th><th class="num hide-narrow">Unit</th><th class="num">Qty</th><th class="num">Amount</th><th class="num">Self-paid</th></tr>
      ${body.items.map((i) => `<tr><td class="mono hide-narrow">${esc(i.code)}</td><td>${esc(i.name)}</td><td class="hide-narrow">${esc(categoryName(i.category))}</td>
        <td class="num hide-narrow">${yuan(i.unit_price)}</td><td class="num">${esc(i.quantity)}</td><td class="num">${yuan(i.amount)}</td><td class="num">${yuan(i.self_paid)}</td></tr>`).join('')}
    </table></div>`;
}

function billHeader(bill) {
  const a = bill.issue.amounts;
  const voidedBy = bill.voided_by && (typeof bill.voided_by === 'string' ? bill.voided_by : `${bill.voided_by.code}/${bill.voided_by.number}`);
  return `
    <dl class="kv">
      <dt>Bill</dt><dd><span class="mono nowrap">${esc(billId(bill))}</span> ${badge(billStatus(bill))}</dd>
      <dt>Check code</dt><dd class="mono">${esc(bill.check_code)}</dd>
      <dt>Issued by</dt><dd>${esc(memberName(bill.issuer))}, ${esc(time(bill.issued_at_ms))} (block ${esc(bill.issued_height)})</dd>
      <dt>Patient</dt><dd>${ident(bill.issue.patient, 'pseudonym')}</dd>
      <dt>Visit</dt><dd>${esc(visitName(bill.issue.visit_type))}</dd>
      <dt>Total</dt><dd>${yuan(a.total)}: pooled fund ${yuan(a.pooled_fund)}, personal account ${yuan(a.personal_account)}, other funds ${yuan(a.other_fund)}</dd>
      <dt>Patient paid</dt><dd>${yuan(a.patient_pay)}</dd>
      <dt>Reserved by claims in progress</dt><dd>${yuan(bill.reserved)}</dd>
      <dt>Reimbursed</dt><dd id="bill-reimbursed">${yuan(bill.reimbursed)}</dd>
      <dt>Still claimable</dt><dd id="bill-claimable">${yuan(Math.max(claimable(bill), 0))}</dd>
      <dt>Charges by category</dt><dd>${bill.issue.categories.map((c) => `${esc(categoryName(c.category))} ${yuan(c.amount)}`).join(' · ') || '—'}</dd>
      ${voidedBy ? `<dt>Voided by</dt><dd class="mono">${esc(voidedBy)}</dd>` : ''}
    </dl>`;
}

async function fetchSealed(key, id) {
  return signedGet(key, `/v1/bills/${id}/body`);
}

// ---------------------------------------------------------------------------------------------
// Patient wallet

async function walletPage(params) {
  const key = await restoreKey('wallet');
  if (!key) {
    return signInCard('wallet', 'Patient wallet',
      'Sign in with your wallet key: a demo patient\'s entry from <code>localnet/keys/patients.json</code> (the whole file works too: pick the patient).',
      async (k) => {
        const list = await members();
        if (list.some((m) => m.keys.includes(k.publicKey))) throw new Error('this is a member institution\'s key; the wallet needs a patient\'s key');
        await api('GET', `/v1/patients/${k.pseudonym}`).catch((e) => {
          if (e.code === 'unknown_patient') throw new Error(`no patient is registered as ${k.pseudonym} on this network`);
          throw e;
        });
      });
  }
  if (params[0]) return walletBill(key, params[0] + '/' + params[1]);
  view().innerHTML = `
    <h1>Patient wallet</h1>
    ${signedInCard('wallet', `patient <span id="wallet-pseudonym">${ident(key.pseudonym, 'pseudonym')}</span>`)}
    <h2 class="live">My bills</h2>
    <div class="card table-wrap" id="bills">Loading…</div>`;
  $('#sign-out').onclick = () => signOut('wallet');
  const load = async () => {
    try {
      const page = await api('GET', `/v1/patients/${key.pseudonym}/bills?limit=100`);
      const rows = page.items.map((b) => `
        <tr class="clickable" data-bill="${esc(billId(b))}">
          <td class="mono nowrap">${esc(billId(b))}</td><td class="hide-narrow">${esc(memberName(b.issuer))}</td>
          <td class="hide-narrow">${esc(time(b.issued_at_ms))}</td>
          <td class="num">${yuan(b.issue.amounts.patient_pay)}</td>
          <td class="num hide-narrow">${yuan(b.reserved)}</td>
          <td class="num hide-narrow">${yuan(b.reimbursed)}</td>
          <td>${Number(b.reimbursed) > 0 ? badge('reimbursed', 'settled') : badge(billStatus(b))}</td></tr>`);
      put('#bills', rows.length ? `<table id="bills-table">
        <tr><th>Bill</th><th class="hide-narrow">Hospital</th><th class="hide-narrow">Issued</th><th class="num">Paid</th><th class="num hide-narrow">Reserved</th><th class="num hide-narrow">Reimbursed</th><th>Status</th></tr>
        ${rows.join('')}</table>` : '<p class="muted">No bills yet. They appear here as soon as a hospital issues them.</p>');
      for (const tr of document.querySelectorAll('tr[data-bill]')) {
        tr.onclick = () => { location.hash = `#/wallet/${tr.dataset.bill}`; };
      }
    } catch (e) {
      put('#bills', `<div class="result bad">${esc(e.message)}</div>`);
    }
  };
  await load();
  follow(`patient=${key.pseudonym}`, (kind) => { if (kind !== 'block') load(); });
}

/** Percent of `num / den` with at most one decimal ("80%", "62.5%"). */
function percent(num, den) {
  const n = BigInt(num);
  const d = BigInt(den);
  if (d === 0n) return '0%';
  const tenths = Number((n * 1000n) / d);
  return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)}%`;
}

/** The coverage ratio `policy` applies to `bill` (design 0010: the ratios weighed by the bill's
 * public category totals, or `other` for a bill without categories), as the fraction the
 * ledger uses and in words. */
function coverageRate(policy, bill) {
  const ratio = (category) => BigInt(policy.coverage.find((c) => c.category === category)?.ratio_bp ?? 0);
  const total = BigInt(bill.issue.amounts.total);
  const categories = bill.issue.categories;
  if (!categories.length || total === 0n) {
    return { num: ratio('other'), den: 10000n, words: `${percent(ratio('other'), 10000n)} (charges without a category count as other)` };
  }
  const num = categories.reduce((sum, c) => sum + BigInt(c.amount) * ratio(c.category), 0n);
  const den = total * 10000n;
  const each = categories.map((c) => `${categoryName(c.category)} ${percent(ratio(c.category), 10000n)}`).join(', ');
  return { num, den, words: categories.length === 1 ? `${percent(num, den)} (${each})` : `${percent(num, den)} on average over this bill's charges (${each})` };
}

/** Why a claim paid what it did, line by line, from the adjudication the ledger attached to it
 * (submitted, eligible, deductible, benefit per claimed bill), in words a patient can follow.
 * `bills` are the claimed bills in the claim's order; `policy` is the payer's policy in force,
 * used for ratios and limits only when it is the version that adjudicated the claim. */
function payoutExplanation(claim, bills, policy) {
  const adj = claim.adjudication;
  const payer = memberName(claim.submission.payer);
  const status = claimStatus(claim);
  const asked = claimTotal(claim);
  const recommended = Number(adj.total.benefit);
  const paid = status === 'settled' ? approvedTotal(claim) : null;
  const known = policy && policy.version === adj.policy_version ? policy : null;
  const title = paid != null ? `Why ${yuan(paid)} of ${yuan(asked)} was paid`
    : status === 'locked' ? `What ${payer}'s policy recommends: ${yuan(recommended)} of ${yuan(asked)}`
      : `What ${payer}'s policy would have paid: ${yuan(recommended)} of ${yuan(asked)}`;
  const items = claim.submission.items.map((item, i) => {
    const l = adj.items[i];
    const bill = bills[i];
    const hospital = bill ? memberName(bill.issuer) : 'the hospital';
    const [submitted, eligible, deductible, benefit] = [l.submitted, l.eligible, l.deductible, l.benefit].map(Number);
    const lines = [`Submitted ${yuan(submitted)}: the amount asked${claim.submission.items.length > 1 ? ` for bill ${item.bill}` : ''}.`];
    if (eligible === 0) {
      lines.push(`Eligible ${yuan(0)}: ${payer}'s policy does not cover ${hospital}, so it pays nothing for this bill.`);
      return lines;
    }
    lines.push(`Eligible ${yuan(eligible)}: ${hospital} is covered by ${payer}'s policy${eligible < submitted ? ' for part of it' : ''}.`);
    if (deductible > 0) {
      lines.push(`Deductible ${yuan(deductible)}: the first part of your costs each year, which you bear yourself${known ? ` (${yuan(known.deductible_yearly)} a year under this policy)` : ''}.`);
    } else {
      lines.push(`Deductible ${yuan(0)}: ${known && Number(known.deductible_yearly) === 0 ? 'this policy has none' : `your deductible for ${adj.year} was already met`}.`);
    }
    const base = eligible - deductible;
    const rate = known && bill ? coverageRate(known, bill) : null;
    if (rate) {
      const covered = Number((BigInt(base) * rate.num) / rate.den);
      let text = `Benefit ${yuan(benefit)}: the policy pays ${rate.words} of the remaining ${yuan(base)}`;
      if (benefit < covered) text += `, ${yuan(covered)}, capped by its limit per claim (${yuan(known.claim_cap)}) or what is left of its yearly limit (${yuan(known.yearly_cap)})`;
      lines.push(`${text}.`);
    } else {
      lines.push(`Benefit ${yuan(benefit)}: the policy's share of the remaining ${yuan(base)}${base > 0 ? ` (${percent(benefit, base)})` : ''}.`);
    }
    return lines;
  });
  let summary;
  if (paid != null) {
    const rest = asked - paid;
    summary = `Paid ${yuan(paid)}${adj.auto_approved ? ', settled by the ledger the moment the claim was filed' : ''}.`;
    if (paid !== recommended) summary += ` ${payer} decided this amount; its policy recommended ${yuan(recommended)}.`;
    if (rest > 0) summary += ` The other ${yuan(rest)} was released: it is not paid by ${payer}, and you can claim it from another payer, such as a commercial insurer.`;
  } else if (status === 'locked') {
    summary = `${payer} has not decided yet; it usually follows this recommendation.`;
  } else {
    summary = `Nothing was paid: the claim was ${status}.`;
  }
  return `<div class="payout" id="payout-${esc(claim.submission.claim_id)}">
    <h3>${esc(title)}</h3>
    <p class="muted small">Worked out by the ledger under ${esc(payer)}'s policy (version ${esc(adj.policy_version)}, benefit year ${esc(adj.year)}) when the claim was filed.</p>
    ${items.map((lines, i) => `${items.length > 1 ? `<p class="small">Bill ${esc(claim.submission.items[i].bill)}</p>` : ''}<ol>${lines.map((line) => `<li>${esc(line)}</li>`).join('')}</ol>`).join('')}
    <p class="sum">${esc(summary)}</p></div>`;
}

async function walletBill(key, id) {
  view().innerHTML = `<p><a href="#/wallet">← My bills</a></p><h1>Bill <span class="mono">${esc(id)}</span></h1><div id="bill">Loading…</div>`;
  // The claim form's last result survives the re-renders that live updates cause.
  let notice = null;
  const render = async () => {
    const bill = await api('GET', `/v1/bills/${id}`);
    const claims = await Promise.all(bill.claims.map((c) => api('GET', `/v1/claims/${c}`)));
    const payers = (await members()).filter((m) => m.roles.some((r) => PAYER_ROLES.includes(r)));
    // What the payout explanations need: the other bills a claim covers, and each payer's policy.
    const otherBills = {};
    const policies = {};
    for (const c of claims.filter((c) => c.adjudication)) {
      for (const item of c.submission.items) {
        if (item.bill !== id && !otherBills[item.bill]) otherBills[item.bill] = await api('GET', `/v1/bills/${item.bill}`).catch(() => null);
      }
      const payer = c.submission.payer;
      if (!(payer in policies)) policies[payer] = await api('GET', `/v1/payers/${payer}/policy`).catch(() => null);
    }
    const chosenPayer = $('#claim-payer')?.value;
    if (!put('#bill', `
      <div class="card">${billHeader(bill)}</div>
      <h2>Claims</h2>
      <div class="card" id="claims">${claims.length ? `<div class="table-wrap"><table>
        <tr><th class="hide-narrow">Claim</th><th>Payer</th><th class="num">Asked</th><th class="num">Paid</th><th>Status</th></tr>
        ${claims.map((c) => `<tr data-claim="${esc(c.submission.claim_id)}"><td class="hide-narrow">${ident(c.submission.claim_id, 'claim id')}</td><td>${esc(memberName(c.submission.payer))}</td>
          <td class="num">${yuan(claimTotal(c))}</td><td class="num">${yuan(approvedTotal(c))}</td>
          <td>${badge(claimStatus(c))}${c.status.reason ? ` ${esc(c.status.reason)}` : ''}</td></tr>`).join('')}
        </table></div>
        ${claims.filter((c) => c.adjudication).map((c) => payoutExplanation(c, c.submission.items.map((it) => (it.bill === id ? bill : otherBills[it.bill])), policies[c.submission.payer])).join('')}`
        : '<p class="muted">No claims yet.</p>'}</div>
      <h2>File a claim</h2>
      <div class="card">
        <div class="grid">
          <label>Payer<select id="claim-payer">${payers.map((p) => `<option value="${esc(p.id)}" ${p.id === chosenPayer ? 'selected' : ''}>${esc(p.name)}</option>`).join('')}</select></label>
          <label>Amount (yuan)<input id="claim-amount" inputmode="decimal" value="${(Math.max(claimable(bill), 0) / 100).toFixed(2)}"></label>
        </div>
        <label class="check"><input type="checkbox" id="claim-disclose"> <span>Let <b id="disclose-payer"></b> read this bill's details: your name and ID, the diagnosis and the itemised charges. Without it the payer sees only the amounts and charge categories.</span></label>
        <div class="row"><button id="claim-submit">File claim</button></div>
        <div id="claim-result" class="result" hidden></div>
      </div>
      <h2>Details (decrypted here)</h2>
      <div class="card" id="body"><button class="secondary" id="open-body">Decrypt the bill's details</button></div>
      <h2>Receipt</h2>
      <div class="card" id="receipt"><button class="secondary" id="get-receipt">Get a receipt anyone can verify</button></div>`)) return;
    const showPayer = () => { $('#disclose-payer').textContent = memberName($('#claim-payer').value) || 'the payer'; };
    showPayer();
    $('#claim-payer').addEventListener('change', showPayer);
    if (notice) Object.assign($('#claim-result'), notice, { hidden: false });
    $('#claim-submit').onclick = () => busy($('#claim-submit'), $('#claim-result'), () => fileClaim().catch((e) => {
      notice = { className: 'result bad', textContent: e.message };
      throw e;
    }));
    const fileClaim = async () => {
      notice = null;
      const amount = parseYuan($('#claim-amount').value, 'amount');
      if (amount <= 0) throw new Error('the amount must be more than zero');
      const payerId = $('#claim-payer').value;
      const payerName = memberName(payerId);
      const claimId = randomHex(16);
      const disclosures = [];
      if ($('#claim-disclose').checked) {
        const payer = (await members()).find((m) => m.id === payerId);
        if (!payer?.encryption_key) throw new Error(`${payerName} has no encryption key to disclose to`);
        const sealed = await fetchSealed(key, id);
        const { chain_id: chainId } = await chain();
        disclosures.push(await C.disclose(chainId, id, sealed.sealed_body, key.encryption.secret, payer.encryption_key));
      }
      const claim = { claim_id: claimId, payer: payerId, patient: key.pseudonym, items: [{ bill: id, amount }], disclosures };
      const done = await transact(key, { type: 'submit_claim', claim, consent: null });
      notice = done.effect?.effect === 'claim_auto_settled'
        ? { className: 'result ok', innerHTML: `Claim ${ident(claimId, 'claim id')} filed and settled at once by ${esc(payerName)}'s policy: ${yuan(done.effect.paid)} paid of ${yuan(amount)} asked (block ${esc(done.height)}). Why, line by line: under Claims.` }
        : { className: 'result ok', innerHTML: `Claim ${ident(claimId, 'claim id')} filed with ${esc(payerName)} and ${yuan(amount)} locked on the bill (block ${esc(done.height)}). Following it live above.` };
      Object.assign($('#claim-result'), notice);
      setTimeout(() => render().catch((e) => toast(e.message)), 300);
    };
    $('#open-body').onclick = () => busy($('#open-body'), null, async () => {
      const sealed = await fetchSealed(key, id);
      const { chain_id: chainId } = await chain();
      const body = await C.openBody(chainId, id, sealed.sealed_body, sealed.body_commitment, key.encryption.secret);
      $('#body').innerHTML = bodyTable(body) + '<p class="muted small">Decrypted in this browser and checked against the commitment on the ledger.</p>';
    });
    $('#get-receipt').onclick = () => busy($('#get-receipt'), null, async () => {
      const proof = await api('GET', `/v1/bills/${id}/proof`);
      const blob = URL.createObjectURL(new Blob([C.unhex(proof.receipt)], { type: 'application/octet-stream' }));
      $('#receipt').innerHTML = `
        <img class="qr" id="receipt-qr-image" alt="QR code of the receipt" src="/v1/bills/${esc(id)}/proof?format=svg">
        <p>As of block ${esc(proof.as_of_height)}, finalized in block ${esc(proof.block_height)} (${esc(time(proof.block_time_ms))}); ${esc(proof.size_bytes)} bytes.</p>
        <p><a download="bill-${esc(id.replace('/', '-'))}.receipt" href="${blob}">Download the receipt</a> · check it on the <a href="#/verify">Verify</a> page or offline with <code>medledger verify</code>.</p>
        <label>QR text<textarea readonly class="mono" id="receipt-qr">${esc(proof.qr)}</textarea></label>`;
    });
  };
  try { await render(); } catch (e) { put('#bill', `<div class="result bad">${esc(e.message)}</div>`); return; }
  follow(`patient=${key.pseudonym}`, (kind) => {
    if (kind.startsWith('claim') || kind === 'bill_voided' || kind === 'payment_recorded') render().catch((e) => toast(e.message));
  });
}

// ---------------------------------------------------------------------------------------------
// Hospital desk

/** The hospital's key store, as `medledger bill issue` keeps it (crates/privacy keystore.rs,
 * `IssuerKeystore`): a folder of `<pseudonym>.key` files, each the 32 raw bytes of an X25519
 * secret the hospital keeps for that patient alone. Every bill is sealed for the patient, the
 * genesis body readers and the hospital's key for that patient, so the hospital can reopen its
 * bills (`medledger bill show --key`) and erase one patient's copies (`medledger erase`).
 * The folder is chosen in the browser (File System Access API) for this page's life. */
const keystore = { dir: null };

/** The public key of the hospital's key for `pseudonym` in `dir`, created at random on first
 * use exactly as the CLI does. The CLI creates a key file with a hard link, which never
 * replaces a file; a browser cannot, so the portal creates the file, then uses whatever key it
 * holds if someone else wrote one first, and writes its own only into an empty file. */
async function issuerCopyKey(dir, pseudonym) {
  const name = `${pseudonym}.key`;
  const read = async (handle) => new Uint8Array(await (await handle.getFile()).arrayBuffer());
  const publicOf = (bytes) => {
    if (bytes.length !== 32) throw new Error(`${dir.name}/${name}: not a 32-byte body key`);
    return C.x25519PublicKey(bytes);
  };
  const work = async () => {
    let handle = null;
    try { handle = await dir.getFileHandle(name); } catch (e) { if (e.name !== 'NotFoundError') throw e; }
    if (handle) return publicOf(await read(handle));
    handle = await dir.getFileHandle(name, { create: true });
    const existing = await read(handle);
    if (existing.length > 0) return publicOf(existing);
    const secret = C.randomBytes(32);
    // Clamped as RFC 7748 and the Rust side store X25519 secrets; X25519 clamps anyway.
    secret[0] &= 248;
    secret[31] = (secret[31] & 127) | 64;
    const writable = await handle.createWritable();
    await writable.write(secret);
    await writable.close();
    return publicOf(await read(handle));
  };
  // One tab at a time per patient key (the CLI is another process; see above).
  return navigator.locks ? navigator.locks.request(`medledger-keystore/${name}`, work) : work();
}

async function hospitalPage() {
  const key = await restoreKey('hospital');
  if (!key) {
    return signInCard('hospital', 'Hospital desk', 'Sign in with the hospital\'s member key file (<code>localnet/keys/members/&lt;hospital&gt;.key.json</code>).',
      (k) => memberOf(k, ['hospital'], 'hospital'));
  }
  const me = await memberOf(key, ['hospital'], 'hospital');
  const pickable = typeof window.showDirectoryPicker === 'function';
  view().innerHTML = `
    <h1>Hospital desk · ${esc(me.name)}</h1>
    ${signedInCard('hospital', `<b>${esc(me.name)}</b>`)}
    <h2>Bill numbers left</h2><div class="card table-wrap" id="ranges">Loading…</div>
    <h2>The hospital's own copies</h2>
    <div class="card">
      <p class="small">Each bill's details are sealed for the patient, the regulator and the hospital itself. The hospital's copy is sealed to a key it keeps for each patient in its key store, the folder <code>medledger bill issue</code> uses (<code>&lt;hospital&gt;.bodies</code> next to the key file, e.g. <code>localnet/keys/members/${esc(me.id)}.bodies</code>), so that <code>medledger bill show --key</code> opens the bill later and <code>medledger erase --patient</code> can erase one patient's copies.</p>
      <div id="keystore" class="keystore none"><span id="keystore-state">${pickable ? 'No key store folder chosen yet.' : 'This browser cannot write to a folder (Chrome and Edge can): issue here without the hospital\'s copy, or with <code>medledger bill issue</code>.'}</span></div>
      <div class="row"><button class="secondary" id="keystore-choose" ${pickable ? '' : 'disabled'}>Choose the key store folder</button></div>
      <label class="check"><input type="checkbox" id="no-issuer-copy"> <span>Issue without the hospital's copy (as <code>bill issue --no-issuer-copy</code>): only the patient, the regulator and payers the patient consents to can read these bills' details.</span></label>
    </div>
    <h2>Issue a bill</h2>
    <div class="card" id="issue-form">
      <div class="grid">
        <label>Patient pseudonym<input id="f-patient" class="mono" placeholder="32 hex digits" autocomplete="off"></label>
        <label>Bill code<select id="f-code"></select></label>
        <label>Number (the next free one)<input id="f-number" inputmode="numeric"></label>
        <label>Visit<select id="f-visit"><option value="">Choose…</option>${VISIT_TYPES.map((v) => `<option value="${v}">${esc(visitName(v))}</option>`).join('')}</select></label>
        <label>Pooled fund paid (yuan, empty if none)<input id="f-pooled" inputmode="decimal" placeholder="0.00"></label>
        <label>Personal account paid (yuan, empty if none)<input id="f-account" inputmode="decimal" placeholder="0.00"></label>
        <label>Patient name<input id="f-name" autocomplete="off"></label>
        <label>Patient ID<input id="f-pid" autocomplete="off"></label>
        <label>Department<input id="f-dept"></label>
        <label>Diagnosis<input id="f-diag"></label>
        <label>Payment channel<input id="f-channel" list="channels" placeholder="e.g. WeChat Pay, cash"></label>
      </div>
      <datalist id="channels">${Object.entries(CHANNEL_NAMES).map(([code, name]) => `<option value="${code}">${esc(name)}</option>`).join('')}</datalist>
      <h3>Charges</h3>
      <div id="items"></div>
      <div class="row"><button class="secondary" id="add-item">Add a charge</button><button id="issue">Issue bill</button></div>
      <div id="issue-result" class="result" hidden></div>
    </div>
    <h2>Upload a batch</h2>
    <div class="card">
      <p class="muted small">The JSON file <code>medledger bill issue --help</code> describes. Bodies are sealed here, for the same readers, before anything is sent.</p>
      <div class="row"><input type="file" id="batch-file" accept=".json,application/json" aria-label="Bills file"><button id="batch-issue">Issue the batch</button></div>
      <div id="batch-result" class="result" hidden></div>
    </div>
    <h2>Void a bill</h2>
    <div class="card">
      <div class="grid">
        <label>Bill (CODE/NUMBER)<input id="v-bill" class="mono" placeholder="e.g. 44010126/0000001001"></label>
        <label>Red bill number (the next free one)<input id="v-red" inputmode="numeric"></label>
      </div>
      <div class="row"><button class="danger" id="void">Void</button></div>
      <div id="void-result" class="result" hidden></div>
    </div>`;
  $('#sign-out').onclick = () => signOut('hospital');

  const showKeystore = () => {
    const box = $('#keystore');
    if (!box) return;
    if (keystore.dir) {
      box.className = 'keystore ready';
      const unusual = !keystore.dir.name.endsWith('.bodies');
      $('#keystore-state').innerHTML = `Key store: folder <code id="keystore-name">${esc(keystore.dir.name)}</code>. Bills issued here are sealed for the hospital with its key for each patient in it, as the CLI does.${unusual ? ' <span class="muted">The CLI looks for <code>&lt;key file name&gt;.bodies</code> next to the key file; give it this folder with <code>--keystore</code>.</span>' : ''}`;
    } else if (pickable) {
      box.className = 'keystore none';
      $('#keystore-state').textContent = 'No key store folder chosen yet: choose it to issue bills the hospital can reopen, or tick the box below.';
    }
  };
  showKeystore();
  $('#keystore-choose').onclick = () => busy($('#keystore-choose'), null, async () => {
    try {
      keystore.dir = await window.showDirectoryPicker({ id: 'medledger-keystore', mode: 'readwrite' });
    } catch (e) {
      if (e.name === 'AbortError') return; // the clerk closed the dialog
      throw e;
    }
    showKeystore();
  });
  /** The readers' keys each bill is sealed for, as `Client::seal_bills`: the genesis body
   * readers, the patient, and the hospital's key for that patient (unless declined). */
  const issuerCopy = async (pseudonym) => {
    if ($('#no-issuer-copy').checked) return null;
    if (!keystore.dir) throw new Error('choose the hospital\'s key store folder first (so that the hospital can reopen the bill), or tick "Issue without the hospital\'s copy"');
    return C.hex(await issuerCopyKey(keystore.dir, pseudonym));
  };

  const addItem = () => {
    const charge = document.createElement('div');
    charge.className = 'charge';
    charge.innerHTML = `<label class="wide">Item<input class="i-name" placeholder="e.g. Blood panel"></label>
      <label>Code<input class="i-code" placeholder="catalogue code"></label>
      <label>Category<select class="i-cat"><option value="">Choose…</option>${CATEGORIES.map((c) => `<option value="${c}">${esc(categoryName(c))}</option>`).join('')}</select></label>
      <label>Unit price (yuan)<input class="i-price" inputmode="decimal" placeholder="0.00"></label>
      <label>Quantity<input class="i-qty" inputmode="numeric" placeholder="1"></label>
      <label>Self-paid (yuan)<input class="i-self" inputmode="decimal" placeholder="0.00"></label>
      <button type="button" class="secondary remove-item">Remove</button>`;
    $('.remove-item', charge).onclick = () => {
      if (document.querySelectorAll('#items .charge').length > 1) charge.remove();
    };
    $('#items').appendChild(charge);
  };
  addItem();
  $('#add-item').onclick = () => addItem();
  let ranges = [];
  const loadRanges = async () => {
    ranges = await api('GET', `/v1/hospitals/${me.id}/ranges`);
    $('#ranges').innerHTML = ranges.length ? `<table id="ranges-table"><tr><th>Code</th><th class="num hide-narrow">From</th><th class="num hide-narrow">To</th><th class="num">Used</th><th class="num">Left</th><th class="num">Next</th></tr>
      ${ranges.map((r) => `<tr><td class="mono nowrap">${esc(r.code)}</td><td class="num hide-narrow">${esc(r.first)}</td><td class="num hide-narrow">${esc(r.last)}</td><td class="num">${esc(r.used)}</td><td class="num">${esc(r.remaining)}</td><td class="num">${esc(r.next_number ?? '—')}</td></tr>`).join('')}</table>`
      : '<p class="muted">No bill numbers are allocated to this hospital; the regulator allocates them.</p>';
    const select = $('#f-code');
    const current = select.value;
    const codes = [...new Set(ranges.map((r) => String(r.code)))];
    select.innerHTML = codes.map((c) => `<option ${c === current ? 'selected' : ''}>${esc(c)}</option>`).join('');
    const next = ranges.find((r) => String(r.code) === select.value && r.next_number != null);
    $('#f-number').value = next ? next.next_number : '';
    if (!$('#v-red').value || $('#v-red').dataset.auto) { $('#v-red').value = next ? next.next_number : ''; $('#v-red').dataset.auto = '1'; }
  };
  try { await loadRanges(); } catch (e) { $('#ranges').innerHTML = `<div class="result bad">${esc(e.message)}</div>`; }

  // What the clerk types; emptied after each bill is issued, so that a second click cannot
  // issue the same bill again under the next number.
  const typed = ['#f-patient', '#f-visit', '#f-pooled', '#f-account', '#f-name', '#f-pid', '#f-dept', '#f-diag', '#f-channel'];
  let lastIssued = null;
  const clearForm = () => {
    for (const sel of typed) $(sel).value = '';
    $('#items').innerHTML = '';
    addItem();
  };
  const formEmpty = () => typed.every((sel) => !$(sel).value.trim())
    && [...document.querySelectorAll('#items input, #items select')].every((el) => !el.value.trim());

  $('#issue').onclick = () => busy($('#issue'), $('#issue-result'), async () => {
    if (formEmpty()) {
      // Most likely a second click on a bill just issued: say so, issue nothing.
      $('#issue-result').className = 'result info';
      $('#issue-result').textContent = lastIssued
        ? `Nothing issued: the form is empty. Bill ${lastIssued} was issued; fill in the next bill.`
        : 'Nothing issued: the form is empty.';
      return;
    }
    const patient = $('#f-patient').value.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(patient)) throw new Error('patient pseudonym: 32 hex digits');
    const visit = $('#f-visit').value;
    if (!visit) throw new Error('choose the visit type');
    const items = [...document.querySelectorAll('#items .charge')].map((charge, i) => {
      const unit = parseYuan($('.i-price', charge).value, `charge ${i + 1} unit price`);
      const qtyText = $('.i-qty', charge).value.trim();
      const quantity = qtyText === '' ? 1 : Number(qtyText);
      if (!Number.isInteger(quantity) || quantity < 1) throw new Error(`charge ${i + 1}: quantity must be a whole number from 1`);
      const selfText = $('.i-self', charge).value.trim();
      const selfPaid = selfText === '' ? 0 : parseYuan(selfText, `charge ${i + 1} self-paid`);
      const category = $('.i-cat', charge).value;
      if (!category) throw new Error(`charge ${i + 1}: choose its category`);
      return { code: $('.i-code', charge).value.trim(), name: $('.i-name', charge).value.trim(), category,
        unit_price: unit, quantity, amount: unit * quantity, self_paid: selfPaid };
    });
    const entry = {
      number: $('#f-number').value.trim(), patient, visit_type: visit,
      pooled_fund: $('#f-pooled').value.trim(), personal_account: $('#f-account').value.trim(),
      body: { patient_name: $('#f-name').value.trim(), patient_id: $('#f-pid').value.trim(), department: $('#f-dept').value.trim(),
        diagnosis: $('#f-diag').value.trim(), payment_channel: $('#f-channel').value.trim(), items },
    };
    const bills = await prepareBills($('#f-code').value, [entry], issuerCopy);
    const done = await transact(key, { type: 'issue_bills', bills: bills.map((b) => b.issue), bodies: bills.map((b) => b.body) });
    const id = bills[0].id;
    lastIssued = id;
    clearForm();
    $('#issue-result').className = 'result ok';
    $('#issue-result').innerHTML = `Issued bill <span class="mono" id="issued-bill">${esc(id)}</span>: total ${yuan(bills[0].issue.amounts.total)}, patient paid ${yuan(bills[0].issue.amounts.patient_pay)} (block ${esc(done.height)}). ${bills[0].copy ? 'The hospital keeps its copy.' : 'No hospital copy.'} The form is cleared for the next bill.`;
    await loadRanges();
  });

  $('#batch-issue').onclick = () => busy($('#batch-issue'), $('#batch-result'), async () => {
    const file = $('#batch-file').files[0];
    if (!file) throw new Error('choose a bills file first');
    let data;
    try { data = JSON.parse(await file.text()); } catch (e) { throw new Error(`${file.name} is not JSON: ${e.message}`); }
    if (!data || !Array.isArray(data.bills) || data.bills.length === 0) throw new Error(`${file.name}: expected {"code": …, "bills": [ … ]} with at least one bill`);
    let next = data.first_number != null ? Number(data.first_number) : null;
    const entries = data.bills.map((b, i) => {
      if (b.number == null && next == null) throw new Error(`bills[${i}]: no "number", and the file has no "first_number"`);
      const number = b.number ?? next;
      if (b.number == null) next += 1;
      return { ...b, number: String(number) };
    });
    const out = $('#batch-result');
    const chunk = 200;
    let issued = 0;
    for (let i = 0; i < entries.length; i += chunk) {
      out.textContent = `Sealing and issuing bills ${i + 1}–${Math.min(i + chunk, entries.length)} of ${entries.length}…`;
      const bills = await prepareBills(String(data.code), entries.slice(i, i + chunk), issuerCopy);
      await transact(key, { type: 'issue_bills', bills: bills.map((b) => b.issue), bodies: bills.map((b) => b.body) })
        .catch((e) => { throw new Error(`after ${issued} of ${entries.length} bills issued, batch ${i / chunk + 1} was refused: ${e.message}`); });
      issued += bills.length;
    }
    out.className = 'result ok';
    out.textContent = `Issued all ${issued} bills of ${file.name}.`;
    $('#batch-file').value = '';
    await loadRanges();
  });

  $('#void').onclick = () => busy($('#void'), $('#void-result'), async () => {
    const bill = $('#v-bill').value.trim();
    if (!/^\d{8}\/\d{1,10}$/.test(bill)) throw new Error('bill: CODE/NUMBER, like 44010126/0000001001');
    const red = $('#v-red').value.trim();
    if (!/^\d{1,10}$/.test(red)) throw new Error('red bill number: up to 10 digits, unused, in this hospital\'s range');
    const done = await transact(key, { type: 'void_bill', bill, red_number: red.padStart(10, '0') });
    $('#void-result').className = 'result ok';
    $('#void-result').textContent = `Voided ${bill} with red bill ${bill.split('/')[0]}/${red.padStart(10, '0')} (block ${done.height}).`;
    $('#v-bill').value = '';
    $('#v-red').value = '';
    await loadRanges();
  });
}

/** Seals bills (entries in the CLI's file format) and builds their headers. Each body is
 * wrapped to the same readers, in the same order, as `Client::seal_bills` wraps it for
 * `medledger bill issue`: every genesis body reader, the patient's registered key, and the
 * hospital's own key for that patient (`issuerCopy(pseudonym)`, null to keep no copy). */
async function prepareBills(code, entries, issuerCopy) {
  if (!/^\d{8}$/.test(code)) throw new Error(`bill code "${code}": 8 digits`);
  const { chain_id: chainId } = await chain();
  const readers = (await members()).filter((m) => m.body_reader && m.encryption_key).map((m) => m.encryption_key);
  const copies = {};
  const out = [];
  for (const [i, e] of entries.entries()) {
    const where = `bill ${i + 1}`;
    const number = String(e.number ?? '').trim();
    if (!/^\d{1,10}$/.test(number)) throw new Error(`${where}: number "${number}" must be up to 10 digits`);
    const id = `${code}/${number.padStart(10, '0')}`;
    const body = e.body;
    if (!body || !Array.isArray(body.items) || body.items.length === 0) throw new Error(`${where}: the body needs at least one charge`);
    for (const [j, item] of body.items.entries()) {
      if (!item.code || !item.name) throw new Error(`${where}, charge ${j + 1}: code and name are required`);
      if (item.self_paid > item.amount) throw new Error(`${where}, charge ${j + 1}: self-paid is more than the amount`);
    }
    for (const field of ['patient_name', 'patient_id', 'department', 'diagnosis', 'payment_channel']) {
      if (!body[field]) throw new Error(`${where}: ${field.replaceAll('_', ' ')} is required`);
    }
    const itemsTotal = body.items.reduce((s, it) => s + Number(it.amount), 0);
    const total = e.total != null ? parseYuan(e.total, `${where} total`) : itemsTotal;
    if (total !== itemsTotal) throw new Error(`${where}: the total ${yuan(total)} is not the charges' sum ${yuan(itemsTotal)}`);
    const part = (v, f) => (v == null || v === '' ? 0 : parseYuan(v, `${where} ${f}`));
    const pooled = part(e.pooled_fund, 'pooled fund');
    const account = part(e.personal_account, 'personal account');
    const other = part(e.other_fund, 'other fund');
    const patientPay = e.patient_pay != null ? parseYuan(e.patient_pay, `${where} patient pay`) : total - pooled - account - other;
    if (patientPay < 0 || pooled + account + other + patientPay !== total) {
      throw new Error(`${where}: the funds' parts (${yuan(pooled + account + other)}) and the patient's part do not add up to the total ${yuan(total)}`);
    }
    const byCategory = {};
    for (const [j, item] of body.items.entries()) {
      if (!CATEGORIES.includes(item.category)) throw new Error(`${where}, charge ${j + 1}: category "${item.category}" is not one of ${CATEGORIES.join(', ')}`);
    }
    if (e.categories && Object.keys(e.categories).length) {
      for (const [c, v] of Object.entries(e.categories)) byCategory[c] = parseYuan(v, `${where} category ${c}`);
    } else {
      for (const it of body.items) byCategory[it.category] = (byCategory[it.category] ?? 0) + Number(it.amount);
    }
    let patientKeys;
    try {
      patientKeys = await api('GET', `/v1/patients/${e.patient}`);
    } catch (err) {
      throw new Error(`${where}: ${err.code === 'unknown_patient' ? `no patient is registered as ${e.patient}` : err.message}`);
    }
    if (!(e.patient in copies)) copies[e.patient] = await issuerCopy(e.patient);
    const copy = copies[e.patient];
    const wrapped = [...readers, patientKeys.encryption_key, ...(copy ? [copy] : [])];
    const sealed = await C.sealBody(chainId, id, body, wrapped.filter((k, j) => wrapped.indexOf(k) === j));
    out.push({
      id,
      issue: {
        id, visit_type: e.visit_type ?? 'outpatient', patient: e.patient,
        amounts: { total, pooled_fund: pooled, personal_account: account, other_fund: other, patient_pay: patientPay },
        categories: CATEGORIES.filter((c) => byCategory[c]).map((c) => ({ category: c, amount: byCategory[c] })),
        body_commitment: sealed.commitment,
      },
      body: sealed.sealed,
      copy: copy != null,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Payer desk

async function payerPage(params) {
  const key = await restoreKey('payer');
  if (!key) {
    return signInCard('payer', 'Payer desk', 'Sign in with the payer\'s member key file (the social security bureau or an insurer: <code>localnet/keys/members/&lt;payer&gt;.key.json</code>).',
      (k) => memberOf(k, PAYER_ROLES, 'payer'));
  }
  const me = await memberOf(key, PAYER_ROLES, 'payer');
  if (params[0]) return payerClaim(key, me, params[0]);
  view().innerHTML = `
    <h1>Payer desk · ${esc(me.name)}</h1>
    ${signedInCard('payer', `<b>${esc(me.name)}</b>`)}
    <div class="card stats" id="totals"></div>
    <h2 class="live">Claims waiting</h2><div class="card table-wrap" id="queue">Loading…</div>
    <h2>Decided</h2><div class="card table-wrap" id="decided">Loading…</div>`;
  $('#sign-out').onclick = () => signOut('payer');
  // On a phone a waiting claim shows what was asked, a decided one what was paid.
  const row = (waiting) => (c) => `<tr class="clickable" data-claim="${esc(c.submission.claim_id)}"><td class="hide-narrow">${ident(c.submission.claim_id, 'claim id')}</td>
    <td class="hide-narrow">${ident(c.submission.patient, 'pseudonym')}</td><td class="mono nowrap">${c.submission.items.map((i) => esc(i.bill)).join('<br>')}</td>
    <td class="num${waiting ? '' : ' hide-narrow'}">${yuan(claimTotal(c))}</td><td class="num${waiting ? ' hide-narrow' : ''}">${yuan(approvedTotal(c))}</td><td>${badge(claimStatus(c))}</td></tr>`;
  const head = (waiting) => `<tr><th class="hide-narrow">Claim</th><th class="hide-narrow">Patient</th><th>Bills</th><th class="num${waiting ? '' : ' hide-narrow'}">Asked</th><th class="num${waiting ? ' hide-narrow' : ''}">Paid</th><th>Status</th></tr>`;
  const load = async () => {
    try {
      const [locked, all] = await Promise.all([
        api('GET', `/v1/payers/${me.id}/claims?status=locked&limit=1000`),
        api('GET', `/v1/payers/${me.id}/claims?limit=1000`),
      ]);
      const decided = all.items.filter((c) => claimStatus(c) !== 'locked');
      const paid = decided.reduce((s, c) => s + approvedTotal(c), 0);
      if (!$('#totals')) return;
      $('#totals').innerHTML = `<div class="stat">Waiting<b id="waiting-count">${locked.items.length}</b></div>
        <div class="stat">Asked, waiting<b>${yuan(locked.items.reduce((s, c) => s + claimTotal(c), 0))}</b></div>
        <div class="stat">Settled<b>${decided.filter((c) => claimStatus(c) === 'settled').length}</b></div>
        <div class="stat">Total paid<b id="total-paid">${yuan(paid)}</b></div>`;
      $('#queue').innerHTML = locked.items.length ? `<table id="queue-table">${head(true)}${locked.items.map(row(true)).join('')}</table>` : '<p class="muted">No claims are waiting.</p>';
      $('#decided').innerHTML = decided.length ? `<table>${head(false)}${decided.slice(0, 50).map(row(false)).join('')}</table>` : '<p class="muted">Nothing decided yet.</p>';
      for (const tr of document.querySelectorAll('tr[data-claim]')) tr.onclick = () => { location.hash = `#/payer/${tr.dataset.claim}`; };
    } catch (e) {
      put('#queue', `<div class="result bad">${esc(e.message)}</div>`);
    }
  };
  await load();
  follow(`payer=${me.id}`, (kind) => { if (kind !== 'block') load(); });
}

// A claim's adjudication under its payer's policy, as FHIR ClaimResponse.adjudication.
function adjudicationCard(adj, claim) {
  const row = (name, l) => `<tr><td>${name}</td><td class="num">${yuan(l.submitted)}</td><td class="num">${yuan(l.eligible)}</td><td class="num">${yuan(l.deductible)}</td><td class="num">${yuan(l.benefit)}</td></tr>`;
  const what = adj.auto_approved ? 'settled by it in the block that accepted the claim' : 'above its auto-settle ceiling: the recommendation below waits for your decision';
  return `<h2>Adjudication</h2><div class="card table-wrap" id="adjudication">
    <p class="muted">Policy version ${esc(adj.policy_version)}, benefit year ${esc(adj.year)}: ${what}.</p>
    <table><tr><th></th><th class="num">Submitted</th><th class="num">Eligible</th><th class="num">Deductible</th><th class="num">Benefit</th></tr>
    ${adj.items.map((l, i) => row(`<span class="mono nowrap">${esc(claim.submission.items[i]?.bill ?? `Item ${i + 1}`)}</span>`, l)).join('')}${row('<b>Total</b>', adj.total)}</table></div>`;
}

async function payerClaim(key, me, claimId) {
  view().innerHTML = `<p><a href="#/payer">← Claims</a></p><h1>Claim ${ident(claimId, 'claim id')}</h1><div id="claim">Loading…</div>`;
  let claim;
  try { claim = await api('GET', `/v1/claims/${claimId}`); } catch (e) { $('#claim').innerHTML = `<div class="result bad">${esc(e.message)}</div>`; return; }
  if (claim.submission.payer !== me.id) { $('#claim').innerHTML = `<div class="result bad">This claim is filed with ${esc(memberName(claim.submission.payer))}, not ${esc(me.name)}.</div>`; return; }
  const bills = await Promise.all(claim.submission.items.map((i) => api('GET', `/v1/bills/${i.bill}`)));
  const status = claimStatus(claim);
  $('#claim').innerHTML = `
    <div class="card"><dl class="kv">
      <dt>Status</dt><dd id="claim-status">${badge(status)} ${esc(claim.status.reason ?? (claim.status.payment_reference ? `payment reference ${claim.status.payment_reference}` : ''))}</dd>
      <dt>Patient</dt><dd>${ident(claim.submission.patient, 'pseudonym')}</dd>
      <dt>Filed</dt><dd>${claim.filed_by ? `by ${esc(memberName(claim.filed_by))}` : 'by the patient'} in block ${esc(claim.submitted_height)}</dd>
      <dt>Asked</dt><dd>${yuan(claimTotal(claim))}</dd>
      ${status === 'settled' ? `<dt>Paid</dt><dd>${yuan(approvedTotal(claim))}</dd>` : ''}
    </dl></div>
    ${claim.adjudication ? adjudicationCard(claim.adjudication, claim) : ''}
    ${status === 'settled' && !claim.status.payment_reference ? `
    <h2>Record the payment</h2>
    <div class="card">
      <p class="muted">The ledger settled this claim by your policy; record your payment's reference once it is paid.</p>
      <div class="grid"><label>Payment reference<input id="record-ref" autocomplete="off" placeholder="your transfer's reference, from your payment system"></label></div>
      <p class="muted small">Written to the ledger for good: enter the reference of the payment actually made.</p>
      <div class="row"><button id="record-payment">Record payment</button></div>
      <div id="record-result" class="result" hidden></div>
    </div>` : ''}
    ${bills.map((b, i) => `<h2>Bill ${esc(billId(b))}: asked ${yuan(claim.submission.items[i].amount)}</h2>
      <div class="card">${billHeader(b)}<div id="body-${i}" class="row">${(claim.submission.disclosures ?? []).some((d) => d.bill === billId(b))
        ? `<button class="secondary open-body" data-i="${i}">Read the consented details</button>`
        : '<p class="muted small">The patient did not consent to share this bill\'s details with you: you see its amounts and charge categories only.</p>'}</div></div>`).join('')}
    ${status === 'locked' ? `
    <h2>Decide</h2>
    <div class="card">
      <div class="grid">
        ${claim.submission.items.map((it, i) => `<label>Approve for ${esc(it.bill)} (yuan, at most ${yuan(it.amount)}${claim.adjudication ? ', the policy recommends this' : ''})<input class="approve" data-i="${i}" inputmode="decimal" value="${(Number(claim.adjudication ? claim.adjudication.items[i].benefit : it.amount) / 100).toFixed(2)}"></label>`).join('')}
        <label>Payment reference<input id="pay-ref" autocomplete="off" placeholder="your transfer's reference, from your payment system"></label>
        <label>Reason to reject<input id="reject-reason" placeholder="e.g. not covered by the policy"></label>
      </div>
      <div class="row"><button id="settle">Settle</button><button class="danger" id="reject">Reject</button></div>
      <div id="decide-result" class="result" hidden></div>
    </div>` : ''}`;
  for (const button of document.querySelectorAll('.open-body')) {
    button.onclick = () => busy(button, null, async () => {
      const i = Number(button.dataset.i);
      const id = billId(bills[i]);
      const sealed = await fetchSealed(key, id);
      const wrap = sealed.disclosures.find((d) => d.wrap.recipient === me.encryption_key)?.wrap;
      if (!wrap) throw new Error('the patient did not consent to disclose this bill\'s details to you');
      const { chain_id: chainId } = await chain();
      const body = await C.openBody(chainId, id, sealed.sealed_body, sealed.body_commitment, key.encryption.secret, wrap);
      $(`#body-${i}`).outerHTML = `<div>${bodyTable(body)}<p class="muted">Decrypted in this browser with the patient's consent.</p></div>`;
    });
  }
  if ($('#record-payment')) {
    $('#record-payment').onclick = () => busy($('#record-payment'), $('#record-result'), async () => {
      const reference = $('#record-ref').value.trim();
      if (!reference) throw new Error('enter the payment reference of the transfer you made: it is written to the ledger');
      const done = await transact(key, { type: 'record_payment', claim_id: claimId, payment_reference: reference });
      $('#record-result').className = 'result ok';
      $('#record-result').textContent = `Payment recorded: reference ${reference} (block ${done.height}).`;
    });
  }
  if (status !== 'locked') return;
  const decided = (text) => { $('#decide-result').className = 'result ok'; $('#decide-result').textContent = text; const here = location.hash;
    setTimeout(() => { if (location.hash === here) payerClaim(key, me, claimId); }, 1500); };
  $('#settle').onclick = () => busy($('#settle'), $('#decide-result'), async () => {
    const approved = [...document.querySelectorAll('.approve')].map((input, i) => {
      const fen = parseYuan(input.value, `approved amount ${i + 1}`);
      if (fen > Number(claim.submission.items[i].amount)) throw new Error(`approved amount ${i + 1} is more than the ${yuan(claim.submission.items[i].amount)} asked`);
      return fen;
    });
    const reference = $('#pay-ref').value.trim();
    if (!reference) throw new Error('enter the payment reference of the transfer you made: it is written to the ledger');
    const done = await transact(key, { type: 'settle_claim', claim_id: claimId, approved, payment_reference: reference });
    decided(`Settled: ${yuan(approved.reduce((s, a) => s + a, 0))} paid, reference ${reference} (block ${done.height}).`);
  });
  $('#reject').onclick = () => busy($('#reject'), $('#decide-result'), async () => {
    const reason = $('#reject-reason').value.trim();
    if (!reason) throw new Error('say why the claim is rejected');
    const done = await transact(key, { type: 'reject_claim', claim_id: claimId, reason });
    decided(`Rejected: ${reason} (block ${done.height}). The reservation is released.`);
  });
}

// ---------------------------------------------------------------------------------------------
// Explorer and regulator

async function explorerPage() {
  view().innerHTML = `
    <h1>Explorer</h1>
    <div class="card search">
      <input id="search" placeholder="Bill CODE/NUMBER, claim id, transaction id, block height or patient pseudonym" aria-label="Search">
      <button id="search-go">Search</button>
    </div>
    <div id="search-result"></div>
    <div class="card stats" id="node-stats">Loading…</div>
    <h2>Validators</h2>
    <div class="card table-wrap" id="validators">Loading…</div>
    <h2>Commit latency</h2>
    <div class="card"><canvas class="chart" id="latency-chart" width="1000" height="180" aria-label="Commit latency over time"></canvas>
      <p class="muted small">Proposal to commit on this node, averaged over each 3 s (from <code>/metrics</code>): the time a transaction waits once a block carries it.</p></div>
    <h2>Throughput and block interval</h2>
    <div class="card"><canvas class="chart" id="chart" width="1000" height="180" aria-label="Transactions per second and block interval"></canvas>
      <p class="muted small">Green: transactions per second over each block. Blue: time from the previous block (ms), which bounds commit latency. Empty blocks count here.</p></div>
    <h2 class="live">Latest blocks</h2>
    <div class="card">
      <label class="check toggle"><input type="checkbox" id="show-empty"> <span>Show empty blocks</span></label>
      <p class="muted small" id="blocks-note"></p>
      <div class="table-wrap"><table id="blocks"></table></div>
    </div>`;
  // Every block seen (replayed history, then live), oldest first: the chart uses them all; the
  // table hides empty ones unless asked, or they would push every transaction out of sight.
  const blocks = [];
  let queued = false;
  const render = () => {
    queued = false;
    const table = $('#blocks');
    if (!table) return;
    const showEmpty = $('#show-empty').checked;
    const empty = blocks.filter((x) => x.txs === 0).length;
    const shown = blocks.filter((x) => showEmpty || x.txs > 0).slice(-25).reverse();
    put('#blocks-note', blocks.length === 0 ? 'Waiting for blocks…'
      : showEmpty ? `Showing every block, empty ones included (${empty} of the last ${blocks.length}).`
        : `${empty} empty block${empty === 1 ? '' : 's'} of the last ${blocks.length} hidden.`);
    const rows = shown.map((x) => `<tr class="clickable${x.txs === 0 ? ' empty' : ''}" data-height="${x.height}" data-txs="${x.txs}"><td class="num">${x.height}</td><td>${esc(new Date(x.timestamp_ms).toLocaleTimeString())}</td>
      <td class="num">${x.txs}</td><td>${ident(x.digest, 'block digest')}</td><td class="hide-narrow">${ident(x.state_root, 'state root')}</td></tr>`);
    table.innerHTML = '<tr><th class="num">Height</th><th>Time</th><th class="num">Txs</th><th>Digest</th><th class="hide-narrow">State root</th></tr>'
      + (rows.join('') || `<tr><td colspan="5" class="muted">No block with transactions among the last ${blocks.length}.</td></tr>`);
    for (const tr of table.querySelectorAll('tr[data-height]')) tr.onclick = () => search(tr.dataset.height);
    drawChart($('#chart'), blocks.slice(-120));
  };
  const addBlock = (b) => {
    if (blocks.some((x) => x.height === b.height)) return;
    blocks.push(b);
    blocks.sort((x, y) => x.height - y.height);
    while (blocks.length > EXPLORER_HISTORY_BLOCKS * 2) blocks.shift();
    // A replay delivers hundreds of blocks at once: draw once they have arrived.
    if (!queued) { queued = true; setTimeout(render, 150); }
  };
  $('#show-empty').addEventListener('change', render);
  const stats = async () => {
    try {
      const s = await api('GET', '/v1/status');
      put('#node-stats', `<div class="stat">Height<b id="height">${s.height}</b></div>
        <div class="stat">Validators<b>${s.validators}</b></div>
        <div class="stat">Peers connected<b>${s.peers_connected} of ${s.validators - 1}</b></div>
        <div class="stat">This node<b>#${s.validator_index}</b></div>
        <div class="stat">Mempool<b>${s.mempool_txs}</b></div>
        <div class="stat">Commit latency<b id="commit-latency">${esc($('#commit-latency')?.textContent ?? '…')}</b></div>
        <div class="stat">Chain<b class="text">${esc(s.chain_id)}</b></div>`);
      return s;
    } catch (e) {
      put('#node-stats', `<div class="result bad">${esc(e.message)}</div>`);
      return null;
    }
  };
  const latencies = [];
  let lastMetrics = null;
  const latency = async () => {
    try {
      const text = await api('GET', '/metrics', { timeout: 5000 });
      const value = (name) => Number((new RegExp(`^${name} ([-+0-9.eE]+)`, 'm').exec(text) ?? [])[1] ?? NaN);
      // The proposal-to-commit histogram (seconds); older nodes export a sum in ms per block.
      const seconds = !Number.isNaN(value('medledger_propose_to_commit_seconds_count'));
      const now = seconds
        ? { t: Date.now(), blocks: value('medledger_propose_to_commit_seconds_count'), sum: value('medledger_propose_to_commit_seconds_sum') * 1000 }
        : { t: Date.now(), blocks: value('medledger_blocks_executed_total'), sum: value('medledger_commit_latency_ms_sum') };
      if (lastMetrics && now.blocks > lastMetrics.blocks && Number.isFinite(now.sum - lastMetrics.sum)) {
        latencies.push({ t: now.t, ms: (now.sum - lastMetrics.sum) / (now.blocks - lastMetrics.blocks) });
        while (latencies.length > 100) latencies.shift();
        const last = latencies[latencies.length - 1].ms;
        put('#commit-latency', `${Math.round(last)} ms`);
        drawSeries($('#latency-chart'), latencies.map((l) => l.ms), 'ms', '#c0392b');
      }
      lastMetrics = now;
    } catch { /* the status line already says when the node is unreachable */ }
  };
  // Per validator, from the certificates this page has seen: the newest finalized height whose
  // certificate carried its signature, and since when it has been absent. One certificate
  // without it is normal (a quorum is 2f + 1, not all); red only after many blocks.
  const seen = new Map();
  const part = (x, height) => {
    if (x.signed_latest == null || height == null) return '—';
    const s = seen.get(x.index) ?? { lastSigned: null, absentSince: null };
    if (x.signed_latest) {
      s.lastSigned = height;
      s.absentSince = null;
    } else if (s.absentSince == null) {
      s.absentSince = height;
    }
    seen.set(x.index, s);
    if (x.signed_latest) return badge('signed', 'ok');
    const absent = height - (s.lastSigned ?? s.absentSince);
    if (absent >= VALIDATOR_ABSENT_BLOCKS) {
      return `${badge('missing', 'bad')} <span class="small">in no certificate for ${absent} blocks${s.lastSigned != null ? ` (last signed block ${s.lastSigned})` : ''}</span>`;
    }
    return `<span title="A certificate needs a quorum of signatures, not all of them: a validator whose vote arrived after the quorum formed is left out of that one.">${badge('not in the last certificate', 'neutral')}</span>`;
  };
  const validators = async () => {
    try {
      const v = await api('GET', '/v1/validators');
      put('#validators', `<p class="small">${v.finalized_height != null ? `Newest finalization this node holds: block ${esc(v.finalized_height)}, ${esc(time(v.finalized_time_ms))}, signed by ${esc(v.signers)} of ${esc(v.validators.length)} validators (a quorum is ${esc(v.quorum)}).` : 'No finalization yet.'}
        A validator left out of one certificate is usually just late; it is marked missing when no certificate has carried its signature for ${VALIDATOR_ABSENT_BLOCKS} blocks.</p>
        <table id="validators-table"><tr><th>#</th><th>Run by</th><th class="hide-narrow">Key</th><th class="hide-narrow">API</th><th>Certificates</th></tr>
        ${v.validators.map((x) => `<tr id="validator-${esc(x.index)}"><td>${esc(x.index)}</td><td>${esc(memberName(x.member))}${x.this_node ? ' <span class="muted small">(this node)</span>' : ''}</td><td class="hide-narrow">${ident(x.public_key, 'validator key')}</td>
          <td class="mono hide-narrow">${esc(x.api_address)}</td><td>${part(x, v.finalized_height)}</td></tr>`).join('')}</table>`);
    } catch (e) {
      put('#validators', `<div class="result bad">${esc(e.message)}</div>`);
    }
  };
  const s = await stats();
  validators();
  latency();
  render();
  const timer = setInterval(() => {
    if (!$('#node-stats')) { clearInterval(timer); return; }
    stats();
    validators();
    latency();
  }, 3000);
  // The block stream replays the recent blocks first (from_height), then follows new ones.
  const from = s ? Math.max(1, s.height - EXPLORER_HISTORY_BLOCKS + 1) : null;
  follow(`types=block${from ? `&from_height=${from}` : ''}`, (kind, envelope) => { if (kind === 'block') addBlock(envelope.event); });
  const search = async (text) => {
    $('#search').value = text;
    const out = $('#search-result');
    out.innerHTML = '<div class="card">Searching…</div>';
    try { out.innerHTML = `<div class="card">${await lookUp(text.trim())}</div>`; } catch (e) { out.innerHTML = `<div class="card result bad">${esc(e.message)}</div>`; }
  };
  $('#search-go').onclick = () => search($('#search').value);
  $('#search').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') search($('#search').value); });
}

/** A claim's status in words: its badge and, once decided, the reason or payment reference. */
function claimStatusText(claim) {
  const detail = claim.status.reason ?? (claim.status.payment_reference ? `payment reference ${claim.status.payment_reference}` : '');
  return `${badge(claimStatus(claim))} ${esc(detail)}`;
}

/** Finds what a search text names: bill, claim, transaction, block or patient. */
async function lookUp(text) {
  if (/^\d{8}\/\d{1,10}$/.test(text)) {
    const [code, number] = text.split('/');
    const bill = await api('GET', `/v1/bills/${code}/${number.padStart(10, '0')}`);
    return `<h2>Bill</h2>${billHeader(bill)}<p>Claims: ${bill.claims.map((c) => ident(c, 'claim id')).join(' ') || 'none'}</p>`;
  }
  if (/^\d{1,12}$/.test(text)) {
    const block = await api('GET', `/v1/blocks/${text}/transactions`);
    return `<h2>Block ${esc(block.height)}</h2><dl class="kv"><dt>Digest</dt><dd>${ident(block.digest, 'block digest')}</dd><dt>Parent</dt><dd>${ident(block.parent, 'block digest')}</dd>
      <dt>Time</dt><dd>${esc(time(block.timestamp_ms))}</dd><dt>State root</dt><dd>${ident(block.state_root, 'state root')} after block ${esc(block.executed_height)}</dd></dl>
      <div class="table-wrap"><table><tr><th>Transaction</th><th>What</th><th>Signed by</th><th>Outcome</th></tr>${block.txs.map((tx, i) => {
        const outcome = block.receipts[i].outcome;
        const type = tx.body?.payload?.type ?? '';
        return `<tr><td>${ident(block.receipts[i].tx_id, 'transaction id')}</td><td>${esc(named(TX_NAMES, type))}</td><td>${esc(signerName(tx.body?.signer))}</td>
          <td>${outcome.accepted ? `${badge('accepted')} ${esc(describeEffect(outcome.accepted))}` : `${badge('rejected')} ${esc(describeRejection(outcome.rejected))}`}</td></tr>`;
      }).join('') || '<tr><td colspan="4" class="muted">An empty block: no transactions.</td></tr>'}</table></div>`;
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    const tx = await api('GET', `/v1/txs/${text.toLowerCase()}`);
    const outcome = tx.committed?.receipt.outcome;
    return `<h2>Transaction</h2><dl class="kv"><dt>Id</dt><dd>${ident(tx.tx_id, 'transaction id')}</dd><dt>Status</dt><dd>${badge(tx.status)}</dd>
      ${tx.committed ? `<dt>Block</dt><dd>${esc(tx.committed.height)} (position ${esc(tx.committed.index)})</dd><dt>Outcome</dt><dd>${outcome.accepted ? `${badge('accepted')} ${esc(describeEffect(outcome.accepted))}` : `${badge('rejected')} ${esc(describeRejection(outcome.rejected))}`}</dd>` : ''}</dl>`;
  }
  if (/^[0-9a-fA-F]{32}$/.test(text)) {
    const id = text.toLowerCase();
    // A claim id and a pseudonym look alike: ask for the patient's bills first (an empty list,
    // not an error, when it is none), then for the claim.
    const page = await api('GET', `/v1/patients/${id}/bills?limit=20`);
    if (page.items.length) {
      return `<h2>Patient ${ident(id, 'pseudonym')}</h2><table>${page.items.map((b) => `<tr><td class="mono nowrap">${esc(billId(b))}</td><td>${esc(memberName(b.issuer))}</td><td class="num">${yuan(b.issue.amounts.patient_pay)}</td><td>${badge(billStatus(b))}</td></tr>`).join('')}</table>`;
    }
    const claim = await api('GET', `/v1/claims/${id}`).catch((e) => {
      if (e.code === 'unknown_claim') throw new Error(`no claim, and no patient with bills, is ${id}`);
      throw e;
    });
    return `<h2>Claim</h2><dl class="kv"><dt>Id</dt><dd>${ident(id, 'claim id')}</dd><dt>Payer</dt><dd>${esc(memberName(claim.submission.payer))}</dd><dt>Patient</dt><dd>${ident(claim.submission.patient, 'pseudonym')}</dd>
      <dt>Bills</dt><dd>${claim.submission.items.map((i) => `<span class="mono">${esc(i.bill)}</span>: ${yuan(i.amount)}`).join('<br>')}</dd><dt>Status</dt><dd>${claimStatusText(claim)}</dd>
      ${claimStatus(claim) === 'settled' ? `<dt>Paid</dt><dd>${yuan(approvedTotal(claim))}</dd>` : ''}</dl>`;
  }
  throw new Error('search by bill (CODE/NUMBER), claim id or pseudonym (32 hex digits), transaction id (64 hex digits) or block height');
}

/** Who signed a transaction: a member's name, or "a patient" for any other key. */
function signerName(publicKey) {
  const member = membersCache?.find((m) => m.keys.includes(publicKey));
  return member ? member.name : 'a patient';
}

/** A cleared canvas with a baseline, and a function drawing one series of values (oldest
 * first) scaled to `max`; null when there are fewer than two values to draw. */
function chartCanvas(canvas, count, emptyText) {
  if (!canvas) return null;
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  ctx.font = '12px system-ui, sans-serif';
  if (count < 2) { ctx.fillStyle = '#5d6d7e'; ctx.fillText(emptyText, 12, 20); return null; }
  const pad = 34;
  const x = (i) => pad + (i * (w - 2 * pad)) / (count - 1);
  const y = (v, max) => h - pad + 10 - (v / max) * (h - pad - 10);
  ctx.strokeStyle = '#d5dbe1'; ctx.beginPath(); ctx.moveTo(pad, h - pad + 10); ctx.lineTo(w - pad, h - pad + 10); ctx.stroke();
  const line = (values, max, color) => {
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
    values.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v, max)) : ctx.moveTo(x(i), y(v, max))));
    ctx.stroke();
  };
  const label = (text, color, left, top) => { ctx.fillStyle = color; ctx.fillText(text, left, top); };
  return { w, h, pad, line, label };
}

/** Transactions per second and block interval over the recent blocks, on a canvas. */
function drawChart(canvas, blocks) {
  const points = [];
  for (let i = 1; i < blocks.length; i++) {
    const dt = Math.max(1, blocks[i].timestamp_ms - blocks[i - 1].timestamp_ms);
    points.push({ height: blocks[i].height, tps: (blocks[i].txs * 1000) / dt, interval: dt });
  }
  const chart = chartCanvas(canvas, points.length, 'Waiting for blocks…');
  if (!chart) return;
  const maxTps = Math.max(1, ...points.map((p) => p.tps));
  const maxInterval = Math.max(100, ...points.map((p) => p.interval));
  chart.line(points.map((p) => p.tps), maxTps, '#1e7e34');
  chart.line(points.map((p) => p.interval), maxInterval, '#1f6feb');
  chart.label(`${maxTps.toFixed(1)} tx/s`, '#1e7e34', 4, 14);
  chart.label(`${maxInterval} ms`, '#1f6feb', chart.w - 70, 14);
  chart.label(`block ${points[0].height}`, '#5d6d7e', chart.pad, chart.h - 6);
  chart.label(`block ${points[points.length - 1].height}`, '#5d6d7e', chart.w - chart.pad - 80, chart.h - 6);
}

/** One series of values, oldest first, on a canvas. */
function drawSeries(canvas, values, unit, color) {
  const chart = chartCanvas(canvas, values.length, 'Measuring…');
  if (!chart) return;
  const max = Math.max(1, ...values);
  chart.line(values, max, color);
  chart.label(`${Math.round(max)} ${unit}`, color, 4, 14);
  chart.label(`last ${values.length} samples, 3 s apart`, '#5d6d7e', chart.pad, chart.h - 6);
}

// ---------------------------------------------------------------------------------------------
// Verify a receipt

const RECEIPT_KINDS = 'A receipt is one of: the QR text starting with <code>ML1*</code> (under a bill\'s QR code in the wallet, or what a QR scanner reads from it), the receipt file downloaded from the wallet (<code>bill-….receipt</code>, choose it below), its bytes as hex, or the JSON the API answers at <code>/v1/bills/CODE/NUMBER/proof</code>.';

function verifyPage() {
  view().innerHTML = `
    <h1>Verify a receipt</h1>
    <div class="card">
      <p>Paste a receipt or choose the receipt file. It is checked against this network's validators: the record, its proof to the state root, the finalized block and the validators' signatures.</p>
      <label>Receipt<textarea id="receipt-text" spellcheck="false" placeholder="ML1*…"></textarea></label>
      <p class="muted small" id="receipt-kinds">${RECEIPT_KINDS}</p>
      <div class="row"><input type="file" id="receipt-file" aria-label="Receipt file"><button id="verify">Verify</button></div>
      <div id="verify-result" class="result" hidden></div>
      <p class="muted">Offline, with nothing but the genesis file: <code>medledger verify RECEIPT --genesis genesis.json</code>.</p>
    </div>`;
  let fileBytes = null;
  $('#receipt-file').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    fileBytes = file ? new Uint8Array(await file.arrayBuffer()) : null;
    if (file) $('#receipt-text').value = '';
  });
  $('#verify').onclick = () => busy($('#verify'), $('#verify-result'), async () => {
    const text = $('#receipt-text').value.trim();
    const body = text || fileBytes;
    if (!body) throw new Error('paste a receipt or choose its file');
    let check;
    try {
      check = await api('POST', '/v1/receipts/verify', { body, headers: { 'content-type': text ? 'text/plain' : 'application/octet-stream' } });
    } catch (e) {
      // The node refuses what is no receipt at all (400 not_a_receipt): its message, then a
      // hint, below.
      if (e.code !== 'not_a_receipt') throw e;
      check = { valid: false, reason: e.detail };
    }
    const out = $('#verify-result');
    if (check.valid) {
      out.className = 'result ok';
      const bill = check.bill;
      const claim = check.claim;
      out.innerHTML = `<b id="verify-verdict">Valid.</b> ${esc(check.subject)} on chain ${esc(check.chain_id)}, as of block ${esc(check.as_of_height)}, finalized in block ${esc(check.block_height)} (${esc(time(check.block_time_ms))}), signed by ${esc(check.signers)} validators.
        ${bill ? `<br>Patient paid ${yuan(bill.issue.amounts.patient_pay)}, reimbursed ${yuan(bill.reimbursed)}, ${billStatus(bill)}.` : ''}
        ${claim ? `<br>Claim ${badge(claimStatus(claim))} for ${yuan(claimTotal(claim))}.` : ''}`;
    } else {
      // The node's reason as it gives it; when it could not even read a receipt, what a
      // receipt looks like, since people paste all sorts of things.
      out.className = 'result bad';
      out.innerHTML = `<b id="verify-verdict">Not valid.</b> ${check.subject ? `${esc(check.subject)}: ` : ''}${esc(check.reason)}
        ${check.subject ? '' : '<p class="hint" id="verify-hint">This does not read as a receipt. Paste the QR text starting with <code>ML1*</code>, the receipt\'s hex or the JSON of <code>…/proof</code>, or choose the receipt file (<code>bill-….receipt</code>) the wallet downloads.</p>'}`;
    }
  });
}

function homePage() {
  view().innerHTML = `
    <h1>medledger</h1>
    <div class="grid">
      <a class="card" href="#/wallet"><b>Patient wallet</b><p class="muted">Your bills, their details, claims and receipts.</p></a>
      <a class="card" href="#/hospital"><b>Hospital desk</b><p class="muted">Issue bills one at a time or in batches, void them, see numbers left.</p></a>
      <a class="card" href="#/payer"><b>Payer desk</b><p class="muted">The claims queue, consented details, settle or reject.</p></a>
      <a class="card" href="#/explorer"><b>Explorer</b><p class="muted">Blocks and transactions live, throughput, search.</p></a>
      <a class="card" href="#/verify"><b>Verify</b><p class="muted">Check a bill or claim receipt, and see why not.</p></a>
    </div>`;
}

// ---------------------------------------------------------------------------------------------
// Routing and the status line

async function route() {
  if (stream) { stream.close(); stream = null; }
  const [page, ...params] = location.hash.replace(/^#\/?/, '').split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === page);
  const pages = { wallet: walletPage, hospital: hospitalPage, payer: payerPage, explorer: explorerPage, verify: verifyPage };
  // Members' names (genesis) label every page; a node that does not answer is said elsewhere.
  await members().catch(() => null);
  try {
    await (pages[page] ?? homePage)(params.map(decodeURIComponent));
  } catch (e) {
    view().innerHTML = `<div class="result bad">${esc(e.message)}</div>`;
  }
}

async function statusLine() {
  const el = $('#chain-status');
  try {
    const s = await api('GET', '/v1/status', { timeout: 5000 });
    chainCache = s;
    el.textContent = `${s.chain_id} · height ${s.height} · ${s.peers_connected + 1}/${s.validators} validators`;
  } catch (e) {
    el.textContent = e.code === 'timeout' ? 'node unreachable: no answer within 5 s' : 'node unreachable';
  }
}

window.addEventListener('hashchange', route);
statusLine();
setInterval(statusLine, 3000);
route();
