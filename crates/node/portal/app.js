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
    super(code ? `${code}: ${message}` : message);
    this.status = status;
    this.code = code;
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
  if (outcome.rejected) throw new ApiError(200, outcome.rejected.code, describeRejection(outcome.rejected));
  return { txId: answer.tx_id, height: answer.committed.height, effect: outcome.accepted };
}

/** A ledger rejection in words: its code and its fields. */
function describeRejection(rejection) {
  const fields = Object.entries(rejection).filter(([k]) => k !== 'code');
  const text = fields.map(([k, v]) => {
    const value = typeof v === 'number' && /amount|claimable|requested|reserved|reimbursed|available|total|paid|fen/.test(k) ? yuan(v) : (typeof v === 'object' ? JSON.stringify(v) : v);
    return `${k.replaceAll('_', ' ')} ${value}`;
  }).join(', ');
  return `the ledger refused it${text ? ` (${text})` : ''}`;
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

/** Parses pasted or uploaded key text into the entries it holds. */
function keyEntries(text) {
  let data;
  try { data = JSON.parse(text); } catch { throw new Error('the key is not JSON: paste a key file (…key.json) or an entry of keys/patients.json'); }
  const list = Array.isArray(data) ? data : [data];
  for (const entry of list) {
    if (!entry || typeof entry.secret_key !== 'string' || !/^[0-9a-fA-F]{64}$/.test(entry.secret_key)) {
      throw new Error('a key needs "secret_key": 64 hex digits (a 32-byte ed25519 seed)');
    }
  }
  if (list.length === 0) throw new Error('the list holds no keys');
  return list;
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
    entry,
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
  route();
}

/** The sign-in card of a desk. `check(key)` refuses a key that does not belong there. */
function signInCard(desk, title, hint, check) {
  const el = view();
  el.innerHTML = `
    <h1>${esc(title)}</h1>
    <div class="card">
      <p>${hint}</p>
      <label>Key (paste it, or choose the file)
        <textarea id="key-text" spellcheck="false" placeholder='{"scheme":"ed25519","public_key":"…","secret_key":"…"}'></textarea>
      </label>
      <div class="row">
        <input type="file" id="key-file" accept=".json,application/json" aria-label="Key file">
        <select id="key-choice" hidden aria-label="Which key"></select>
        <button id="sign-in">Sign in</button>
      </div>
      <div id="sign-in-result" class="result" hidden></div>
      <p class="muted">The key stays in this browser tab: transactions are signed here and only the signature is sent.</p>
    </div>`;
  const text = $('#key-text');
  const choice = $('#key-choice');
  const refreshChoice = () => {
    try {
      const list = keyEntries(text.value);
      choice.hidden = list.length < 2;
      choice.innerHTML = list.map((e, i) => `<option value="${i}">${esc(e.pseudonym ?? e.public_key ?? `key ${i + 1}`)}</option>`).join('');
    } catch { choice.hidden = true; }
  };
  text.addEventListener('input', refreshChoice);
  $('#key-file').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    if (file) { text.value = await file.text(); refreshChoice(); }
  });
  const button = $('#sign-in');
  button.addEventListener('click', () => busy(button, $('#sign-in-result'), async () => {
    const list = keyEntries(text.value);
    const entry = list[Number(choice.value || 0)] ?? list[0];
    const key = await loadKey(entry);
    await check(key);
    keys[desk] = key;
    sessionStorage.setItem(`medledger.key.${desk}`, JSON.stringify(entry));
    route();
  }));
}

/** The member a key belongs to, or an error naming what it is not. */
async function memberOf(key, roles, what) {
  const list = await members();
  const member = list.find((m) => m.keys.includes(key.publicKey));
  if (!member) throw new Error(`this key is not a member's key on this network; the ${what} desk needs a ${what}'s key file`);
  if (!member.roles.some((r) => roles.includes(r))) {
    throw new Error(`${member.name} (${member.id}) is a ${member.roles.join(', ')}, not a ${what}`);
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
    'claim_withdrawn', 'body_accessed', 'tx_rejected', 'block'];
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
    <dl class="kv">
      <dt>Patient</dt><dd>${esc(body.patient_name)} · ${esc(body.patient_id)}</dd>
      <dt>Department</dt><dd>${esc(body.department)}</dd>
      <dt>Diagnosis</dt><dd>${esc(body.diagnosis)}</dd>
      <dt>Paid by</dt><dd>${esc(body.payment_channel)}</dd>
    </dl>
    <div class="table-wrap"><table>
      <tr><th>Code</th><th>Item</th><th>Category</th><th class="num">Unit</th><th class="num">Qty</th><th class="num">Amount</th><th class="num">Self-paid</th></tr>
      ${body.items.map((i) => `<tr><td class="mono">${esc(i.code)}</td><td>${esc(i.name)}</td><td>${esc(i.category)}</td>
        <td class="num">${yuan(i.unit_price)}</td><td class="num">${esc(i.quantity)}</td><td class="num">${yuan(i.amount)}</td><td class="num">${yuan(i.self_paid)}</td></tr>`).join('')}
    </table></div>`;
}

function billHeader(bill) {
  const a = bill.issue.amounts;
  return `
    <dl class="kv">
      <dt>Bill</dt><dd class="mono">${esc(billId(bill))} ${badge(billStatus(bill))}</dd>
      <dt>Check code</dt><dd class="mono">${esc(bill.check_code)}</dd>
      <dt>Issued by</dt><dd>${esc(bill.issuer)} at block ${esc(bill.issued_height)}, ${esc(time(bill.issued_at_ms))}</dd>
      <dt>Visit</dt><dd>${esc(bill.issue.visit_type)}</dd>
      <dt>Total</dt><dd>${yuan(a.total)} (pooled fund ${yuan(a.pooled_fund)}, personal account ${yuan(a.personal_account)}, other ${yuan(a.other_fund)})</dd>
      <dt>Patient paid</dt><dd>${yuan(a.patient_pay)}</dd>
      <dt>Reserved by claims</dt><dd>${yuan(bill.reserved)}</dd>
      <dt>Reimbursed</dt><dd id="bill-reimbursed">${yuan(bill.reimbursed)}</dd>
      <dt>Still claimable</dt><dd>${yuan(claimable(bill))}</dd>
      <dt>Categories</dt><dd>${bill.issue.categories.map((c) => `${esc(c.category)} ${yuan(c.amount)}`).join(', ') || '—'}</dd>
      ${bill.voided_by ? `<dt>Voided by</dt><dd class="mono">${esc(typeof bill.voided_by === 'string' ? bill.voided_by : `${bill.voided_by.code}/${bill.voided_by.number}`)}</dd>` : ''}
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
    <div class="card"><div class="row" style="justify-content:space-between;margin:0">
      <div>Signed in as <span class="mono" id="wallet-pseudonym">${esc(key.pseudonym)}</span></div>
      <button class="secondary" id="sign-out">Sign out</button></div></div>
    <h2 class="live">My bills</h2>
    <div class="card table-wrap" id="bills">Loading…</div>`;
  $('#sign-out').onclick = () => signOut('wallet');
  const load = async () => {
    try {
      const page = await api('GET', `/v1/patients/${key.pseudonym}/bills?limit=100`);
      const rows = page.items.map((b) => `
        <tr class="clickable" data-bill="${esc(billId(b))}">
          <td class="mono nowrap">${esc(billId(b))}</td><td class="hide-narrow">${esc(b.issuer)}</td>
          <td class="hide-narrow">${esc(time(b.issued_at_ms))}</td>
          <td class="num">${yuan(b.issue.amounts.patient_pay)}</td>
          <td class="num hide-narrow">${yuan(b.reserved)}</td>
          <td class="num">${yuan(b.reimbursed)}</td>
          <td>${badge(billStatus(b))}${Number(b.reimbursed) > 0 ? ' ' + badge('reimbursed', 'settled') : ''}</td></tr>`);
      put('#bills', rows.length ? `<table id="bills-table">
        <tr><th>Bill</th><th class="hide-narrow">Hospital</th><th class="hide-narrow">Issued</th><th class="num">Paid</th><th class="num hide-narrow">Reserved</th><th class="num">Reimbursed</th><th>Status</th></tr>
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

async function walletBill(key, id) {
  view().innerHTML = `<p><a href="#/wallet">← My bills</a></p><h1>Bill <span class="mono">${esc(id)}</span></h1><div id="bill">Loading…</div>`;
  // The claim form's last result survives the re-renders that live updates cause.
  let notice = null;
  const render = async () => {
    const bill = await api('GET', `/v1/bills/${id}`);
    const claims = await Promise.all(bill.claims.map((c) => api('GET', `/v1/claims/${c}`)));
    const payers = (await members()).filter((m) => m.roles.some((r) => PAYER_ROLES.includes(r)));
    if (!put('#bill', `
      <div class="card">${billHeader(bill)}</div>
      <h2>Claims</h2>
      <div class="card table-wrap" id="claims">${claims.length ? `<table>
        <tr><th>Claim</th><th>Payer</th><th class="num">Asked</th><th class="num">Paid</th><th>Status</th></tr>
        ${claims.map((c) => `<tr data-claim="${esc(c.submission.claim_id)}"><td class="mono">${esc(c.submission.claim_id)}</td><td>${esc(c.submission.payer)}</td>
          <td class="num">${yuan(claimTotal(c))}</td><td class="num">${yuan(approvedTotal(c))}</td>
          <td>${badge(claimStatus(c))}${c.status.reason ? ` ${esc(c.status.reason)}` : ''}</td></tr>`).join('')}
        </table>` : '<p class="muted">No claims yet.</p>'}</div>
      <h2>File a claim</h2>
      <div class="card">
        <div class="grid">
          <label>Payer<select id="claim-payer">${payers.map((p) => `<option value="${esc(p.id)}">${esc(p.name)} (${esc(p.id)})</option>`).join('')}</select></label>
          <label>Amount (yuan)<input id="claim-amount" inputmode="decimal" value="${(Math.max(claimable(bill), 0) / 100).toFixed(2)}"></label>
          <label style="flex-direction:row;align-items:center;gap:.4rem"><input type="checkbox" id="claim-disclose" checked style="width:auto"> Let the payer read this bill's details</label>
        </div>
        <div class="row"><button id="claim-submit">File claim</button></div>
        <div id="claim-result" class="result" hidden></div>
      </div>
      <h2>Details (decrypted here)</h2>
      <div class="card" id="body"><button class="secondary" id="open-body">Decrypt the bill's details</button></div>
      <h2>Receipt</h2>
      <div class="card" id="receipt"><button class="secondary" id="get-receipt">Get a receipt anyone can verify</button></div>`)) return;
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
      const claimId = randomHex(16);
      const disclosures = [];
      if ($('#claim-disclose').checked) {
        const payer = (await members()).find((m) => m.id === payerId);
        if (!payer?.encryption_key) throw new Error(`${payerId} has no encryption key to disclose to`);
        const sealed = await fetchSealed(key, id);
        const { chain_id: chainId } = await chain();
        disclosures.push(await C.disclose(chainId, id, sealed.sealed_body, key.encryption.secret, payer.encryption_key));
      }
      const claim = { claim_id: claimId, payer: payerId, patient: key.pseudonym, items: [{ bill: id, amount }], disclosures };
      const done = await transact(key, { type: 'submit_claim', claim, consent: null });
      notice = done.effect?.effect === 'claim_auto_settled'
        ? { className: 'result ok', innerHTML: `Claim <span class="mono">${esc(claimId)}</span> filed and settled at once by ${esc(payerId)}'s policy: ${yuan(done.effect.paid)} paid of ${yuan(amount)} asked (block ${esc(done.height)}).` }
        : { className: 'result ok', innerHTML: `Claim <span class="mono">${esc(claimId)}</span> filed and ${yuan(amount)} locked on the bill (block ${esc(done.height)}). Following it live below.` };
      Object.assign($('#claim-result'), notice);
      setTimeout(() => render().catch((e) => toast(e.message)), 300);
    };
    $('#open-body').onclick = () => busy($('#open-body'), null, async () => {
      const sealed = await fetchSealed(key, id);
      const { chain_id: chainId } = await chain();
      const body = await C.openBody(chainId, id, sealed.sealed_body, sealed.body_commitment, key.encryption.secret);
      $('#body').innerHTML = bodyTable(body) + '<p class="muted">Decrypted in this browser and checked against the commitment on the ledger.</p>';
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
    if (kind.startsWith('claim') || kind === 'bill_voided') render().catch((e) => toast(e.message));
  });
}

// ---------------------------------------------------------------------------------------------
// Hospital desk

async function hospitalPage() {
  const key = await restoreKey('hospital');
  if (!key) {
    return signInCard('hospital', 'Hospital desk', 'Sign in with the hospital\'s member key file (<code>localnet/keys/members/&lt;hospital&gt;.key.json</code>).',
      (k) => memberOf(k, ['hospital'], 'hospital'));
  }
  const me = await memberOf(key, ['hospital'], 'hospital');
  view().innerHTML = `
    <h1>Hospital desk · ${esc(me.name)}</h1>
    <div class="card"><div class="row" style="justify-content:space-between;margin:0">
      <div>Signed in as <b>${esc(me.id)}</b></div><button class="secondary" id="sign-out">Sign out</button></div></div>
    <h2>Bill numbers left</h2><div class="card table-wrap" id="ranges">Loading…</div>
    <h2>Issue a bill</h2>
    <div class="card">
      <div class="grid">
        <label>Patient pseudonym<input id="f-patient" class="mono" placeholder="32 hex digits"></label>
        <label>Bill code<select id="f-code"></select></label>
        <label>Number<input id="f-number" inputmode="numeric"></label>
        <label>Visit<select id="f-visit">${VISIT_TYPES.map((v) => `<option>${v}</option>`).join('')}</select></label>
        <label>Pooled fund paid (yuan)<input id="f-pooled" value="0.00" inputmode="decimal"></label>
        <label>Personal account paid (yuan)<input id="f-account" value="0.00" inputmode="decimal"></label>
        <label>Patient name<input id="f-name"></label>
        <label>Patient ID<input id="f-pid"></label>
        <label>Department<input id="f-dept"></label>
        <label>Diagnosis<input id="f-diag"></label>
        <label>Payment channel<input id="f-channel" value="wechat_pay"></label>
      </div>
      <h2>Charges</h2>
      <div class="table-wrap"><table id="items"><tr><th>Code</th><th>Item</th><th>Category</th><th>Unit price (yuan)</th><th>Qty</th><th>Self-paid (yuan)</th></tr></table></div>
      <div class="row"><button class="secondary" id="add-item">Add a charge</button><button id="issue">Issue bill</button></div>
      <div id="issue-result" class="result" hidden></div>
    </div>
    <h2>Upload a batch</h2>
    <div class="card">
      <p class="muted">The JSON file <code>medledger bill issue --help</code> describes. Bodies are sealed here before anything is sent.</p>
      <div class="row"><input type="file" id="batch-file" accept=".json,application/json" aria-label="Bills file"><button id="batch-issue">Issue the batch</button></div>
      <div id="batch-result" class="result" hidden></div>
    </div>
    <h2>Void a bill</h2>
    <div class="card">
      <div class="grid">
        <label>Bill (CODE/NUMBER)<input id="v-bill" class="mono"></label>
        <label>Red bill number<input id="v-red" inputmode="numeric"></label>
      </div>
      <div class="row"><button class="danger" id="void">Void</button></div>
      <div id="void-result" class="result" hidden></div>
    </div>`;
  $('#sign-out').onclick = () => signOut('hospital');
  const addItem = (item = {}) => {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td><input class="i-code" value="${esc(item.code ?? '')}"></td><td><input class="i-name" value="${esc(item.name ?? '')}"></td>
      <td><select class="i-cat">${CATEGORIES.map((c) => `<option ${c === item.category ? 'selected' : ''}>${c}</option>`).join('')}</select></td>
      <td><input class="i-price" inputmode="decimal" value="${esc(item.price ?? '')}"></td><td><input class="i-qty" inputmode="numeric" value="${esc(item.qty ?? '1')}"></td>
      <td><input class="i-self" inputmode="decimal" value="${esc(item.self ?? '0.00')}"></td>`;
    $('#items').appendChild(tr);
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

  $('#issue').onclick = () => busy($('#issue'), $('#issue-result'), async () => {
    const patient = $('#f-patient').value.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(patient)) throw new Error('patient pseudonym: 32 hex digits');
    const items = [...document.querySelectorAll('#items tr')].slice(1).map((tr, i) => {
      const unit = parseYuan($('.i-price', tr).value, `charge ${i + 1} unit price`);
      const quantity = Number($('.i-qty', tr).value);
      if (!Number.isInteger(quantity) || quantity < 1) throw new Error(`charge ${i + 1}: quantity must be a whole number from 1`);
      const selfPaid = parseYuan($('.i-self', tr).value, `charge ${i + 1} self-paid`);
      return { code: $('.i-code', tr).value.trim(), name: $('.i-name', tr).value.trim(), category: $('.i-cat', tr).value,
        unit_price: unit, quantity, amount: unit * quantity, self_paid: selfPaid };
    });
    const entry = {
      number: $('#f-number').value.trim(), patient, visit_type: $('#f-visit').value,
      pooled_fund: $('#f-pooled').value, personal_account: $('#f-account').value,
      body: { patient_name: $('#f-name').value.trim(), patient_id: $('#f-pid').value.trim(), department: $('#f-dept').value.trim(),
        diagnosis: $('#f-diag').value.trim(), payment_channel: $('#f-channel').value.trim(), items },
    };
    const bills = await prepareBills(key, $('#f-code').value, [entry]);
    const done = await transact(key, { type: 'issue_bills', bills: bills.map((b) => b.issue), bodies: bills.map((b) => b.body) });
    const id = bills[0].id;
    $('#issue-result').className = 'result ok';
    $('#issue-result').innerHTML = `Issued bill <span class="mono" id="issued-bill">${esc(id)}</span>: total ${yuan(bills[0].issue.amounts.total)}, patient paid ${yuan(bills[0].issue.amounts.patient_pay)} (block ${esc(done.height)}).`;
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
      const bills = await prepareBills(key, String(data.code), entries.slice(i, i + chunk));
      await transact(key, { type: 'issue_bills', bills: bills.map((b) => b.issue), bodies: bills.map((b) => b.body) })
        .catch((e) => { throw new Error(`after ${issued} of ${entries.length} bills issued, batch ${i / chunk + 1} was refused: ${e.message}`); });
      issued += bills.length;
    }
    out.className = 'result ok';
    out.textContent = `Issued all ${issued} bills of ${file.name}.`;
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
    $('#v-red').value = '';
    await loadRanges();
  });
}

/** Seals bills (entries in the CLI's file format) for their readers and builds their headers. */
async function prepareBills(key, code, entries) {
  if (!/^\d{8}$/.test(code)) throw new Error(`bill code "${code}": 8 digits`);
  const { chain_id: chainId } = await chain();
  const readers = (await members()).filter((m) => m.body_reader && m.encryption_key).map((m) => m.encryption_key);
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
    const sealed = await C.sealBody(chainId, id, body, [patientKeys.encryption_key, ...readers.filter((r) => r !== patientKeys.encryption_key)]);
    out.push({
      id,
      issue: {
        id, visit_type: e.visit_type ?? 'outpatient', patient: e.patient,
        amounts: { total, pooled_fund: pooled, personal_account: account, other_fund: other, patient_pay: patientPay },
        categories: CATEGORIES.filter((c) => byCategory[c]).map((c) => ({ category: c, amount: byCategory[c] })),
        body_commitment: sealed.commitment,
      },
      body: sealed.sealed,
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
    <div class="card"><div class="row" style="justify-content:space-between;margin:0">
      <div>Signed in as <b>${esc(me.id)}</b></div><button class="secondary" id="sign-out">Sign out</button></div></div>
    <div class="card stats" id="totals"></div>
    <h2 class="live">Claims waiting</h2><div class="card table-wrap" id="queue">Loading…</div>
    <h2>Decided</h2><div class="card table-wrap" id="decided">Loading…</div>`;
  $('#sign-out').onclick = () => signOut('payer');
  const row = (c) => `<tr class="clickable" data-claim="${esc(c.submission.claim_id)}"><td class="mono">${esc(c.submission.claim_id)}</td>
    <td class="mono hide-narrow">${esc(c.submission.patient)}</td><td>${c.submission.items.map((i) => esc(i.bill)).join('<br>')}</td>
    <td class="num">${yuan(claimTotal(c))}</td><td class="num">${yuan(approvedTotal(c))}</td><td>${badge(claimStatus(c))}</td></tr>`;
  const head = '<tr><th>Claim</th><th class="hide-narrow">Patient</th><th>Bills</th><th class="num">Asked</th><th class="num">Paid</th><th>Status</th></tr>';
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
      $('#queue').innerHTML = locked.items.length ? `<table id="queue-table">${head}${locked.items.map(row).join('')}</table>` : '<p class="muted">No claims are waiting.</p>';
      $('#decided').innerHTML = decided.length ? `<table>${head}${decided.slice(0, 50).map(row).join('')}</table>` : '<p class="muted">Nothing decided yet.</p>';
      for (const tr of document.querySelectorAll('tr[data-claim]')) tr.onclick = () => { location.hash = `#/payer/${tr.dataset.claim}`; };
    } catch (e) {
      put('#queue', `<div class="result bad">${esc(e.message)}</div>`);
    }
  };
  await load();
  follow(`payer=${me.id}`, (kind) => { if (kind !== 'block') load(); });
}

// A claim's adjudication under its payer's policy, as FHIR ClaimResponse.adjudication.
function adjudicationCard(adj) {
  const row = (name, l) => `<tr><td>${name}</td><td class="num">${yuan(l.submitted)}</td><td class="num">${yuan(l.eligible)}</td><td class="num">${yuan(l.deductible)}</td><td class="num">${yuan(l.benefit)}</td></tr>`;
  const what = adj.auto_approved ? 'settled by it in the block that accepted the claim' : 'above its auto-settle ceiling: the recommendation below waits for your decision';
  return `<h2>Adjudication</h2><div class="card table-wrap" id="adjudication">
    <p class="muted">Policy version ${esc(adj.policy_version)}, benefit year ${esc(adj.year)}: ${what}.</p>
    <table><tr><th></th><th class="num">Submitted</th><th class="num">Eligible</th><th class="num">Deductible</th><th class="num">Benefit</th></tr>
    ${adj.items.map((l, i) => row(`Item ${i + 1}`, l)).join('')}${row('<b>Total</b>', adj.total)}</table></div>`;
}

async function payerClaim(key, me, claimId) {
  view().innerHTML = `<p><a href="#/payer">← Claims</a></p><h1>Claim <span class="mono">${esc(claimId)}</span></h1><div id="claim">Loading…</div>`;
  let claim;
  try { claim = await api('GET', `/v1/claims/${claimId}`); } catch (e) { $('#claim').innerHTML = `<div class="result bad">${esc(e.message)}</div>`; return; }
  if (claim.submission.payer !== me.id) { $('#claim').innerHTML = `<div class="result bad">This claim is filed with ${esc(claim.submission.payer)}, not ${esc(me.id)}.</div>`; return; }
  const bills = await Promise.all(claim.submission.items.map((i) => api('GET', `/v1/bills/${i.bill}`)));
  const status = claimStatus(claim);
  $('#claim').innerHTML = `
    <div class="card"><dl class="kv">
      <dt>Status</dt><dd id="claim-status">${badge(status)} ${esc(claim.status.reason ?? claim.status.payment_reference ?? '')}</dd>
      <dt>Patient</dt><dd class="mono">${esc(claim.submission.patient)}</dd>
      <dt>Filed</dt><dd>block ${esc(claim.submitted_height)}${claim.filed_by ? ` by ${esc(claim.filed_by)}` : ' by the patient'}</dd>
      <dt>Asked</dt><dd>${yuan(claimTotal(claim))}</dd>
      ${status === 'settled' ? `<dt>Paid</dt><dd>${yuan(approvedTotal(claim))}</dd>` : ''}
    </dl></div>
    ${claim.adjudication ? adjudicationCard(claim.adjudication) : ''}
    ${status === 'settled' && !claim.status.payment_reference ? `
    <h2>Record the payment</h2>
    <div class="card">
      <p class="muted">The ledger settled this claim by your policy; record your payment's reference once it is paid.</p>
      <div class="grid"><label>Payment reference<input id="record-ref" value="PAY-${esc(claimId.slice(0, 8).toUpperCase())}"></label></div>
      <div class="row"><button id="record-payment">Record payment</button></div>
      <div id="record-result" class="result" hidden></div>
    </div>` : ''}
    ${bills.map((b, i) => `<h2>Bill ${esc(billId(b))}: asked ${yuan(claim.submission.items[i].amount)}</h2>
      <div class="card">${billHeader(b)}<div id="body-${i}" class="row"><button class="secondary open-body" data-i="${i}">Read the consented details</button></div></div>`).join('')}
    ${status === 'locked' ? `
    <h2>Decide</h2>
    <div class="card">
      <div class="grid">
        ${claim.submission.items.map((it, i) => `<label>Approve for ${esc(it.bill)} (yuan, at most ${yuan(it.amount)})<input class="approve" data-i="${i}" inputmode="decimal" value="${(Number(claim.adjudication ? claim.adjudication.items[i].benefit : it.amount) / 100).toFixed(2)}"></label>`).join('')}
        <label>Payment reference<input id="pay-ref" value="PAY-${esc(claimId.slice(0, 8).toUpperCase())}"></label>
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
      if (!reference) throw new Error('a payment reference is required');
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
    if (!reference) throw new Error('a payment reference is required');
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
    <div class="card row" style="margin-top:0">
      <input id="search" placeholder="Bill CODE/NUMBER, claim id, transaction id, block height or patient pseudonym" aria-label="Search">
      <button id="search-go">Search</button>
    </div>
    <div id="search-result"></div>
    <div class="card stats" id="node-stats">Loading…</div>
    <h2>Validators</h2>
    <div class="card table-wrap" id="validators">Loading…</div>
    <h2>Commit latency</h2>
    <div class="card"><canvas class="chart" id="latency-chart" width="1000" height="180" aria-label="Commit latency over time"></canvas>
      <p class="muted">Proposal to commit on this node, averaged over each 3 s (from <code>/metrics</code>): the time a transaction waits once a block carries it.</p></div>
    <h2>Throughput and block interval</h2>
    <div class="card"><canvas class="chart" id="chart" width="1000" height="180" aria-label="Transactions per second and block interval"></canvas>
      <p class="muted">Green: transactions per second over each block. Blue: time from the previous block (ms), which bounds commit latency.</p></div>
    <h2 class="live">Latest blocks</h2>
    <div class="card table-wrap"><table id="blocks"><tr><th class="num">Height</th><th>Time</th><th class="num">Txs</th><th>Digest</th><th class="hide-narrow">State root</th></tr></table></div>`;
  const blocks = [];
  const draw = () => drawChart($('#chart'), blocks);
  const addBlock = (b) => {
    if (blocks.some((x) => x.height === b.height)) return;
    blocks.push(b);
    blocks.sort((x, y) => x.height - y.height);
    while (blocks.length > 120) blocks.shift();
    const table = $('#blocks');
    if (!table) return;
    const rows = blocks.slice(-25).reverse().map((x) => `<tr class="clickable" data-height="${x.height}"><td class="num">${x.height}</td><td>${esc(new Date(x.timestamp_ms).toLocaleTimeString())}</td>
      <td class="num">${x.txs}</td><td class="mono">${esc(x.digest.slice(0, 16))}…</td><td class="mono hide-narrow">${esc(String(x.state_root).slice(0, 16))}…</td></tr>`);
    table.innerHTML = '<tr><th class="num">Height</th><th>Time</th><th class="num">Txs</th><th>Digest</th><th class="hide-narrow">State root</th></tr>' + rows.join('');
    for (const tr of table.querySelectorAll('tr[data-height]')) tr.onclick = () => search(tr.dataset.height);
    draw();
  };
  const stats = async () => {
    try {
      const s = await api('GET', '/v1/status');
      put('#node-stats', `<div class="stat">Height<b id="height">${s.height}</b></div>
        <div class="stat">Validators<b>${s.validators}</b></div>
        <div class="stat">Peers connected<b>${s.peers_connected} of ${s.validators - 1}</b></div>
        <div class="stat">This node<b>#${s.validator_index}</b></div>
        <div class="stat">Mempool<b>${s.mempool_txs}</b></div>
        <div class="stat">Commit latency<b id="commit-latency">${esc($('#commit-latency')?.textContent ?? '…')}</b></div>
        <div class="stat">Chain<b style="font-size:1rem">${esc(s.chain_id)}</b></div>`);
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
      const value = (name) => Number((new RegExp(`^${name} (\\d+)`, 'm').exec(text) ?? [])[1] ?? NaN);
      const now = { t: Date.now(), blocks: value('medledger_blocks_executed_total'), sum: value('medledger_commit_latency_ms_sum') };
      if (lastMetrics && now.blocks > lastMetrics.blocks) {
        latencies.push({ t: now.t, ms: (now.sum - lastMetrics.sum) / (now.blocks - lastMetrics.blocks) });
        while (latencies.length > 100) latencies.shift();
        const last = latencies[latencies.length - 1].ms;
        put('#commit-latency', `${Math.round(last)} ms`);
        drawSeries($('#latency-chart'), latencies.map((l) => l.ms), 'ms', '#c0392b');
      }
      lastMetrics = now;
    } catch { /* the status line already says when the node is unreachable */ }
  };
  const validators = async () => {
    try {
      const v = await api('GET', '/v1/validators');
      put('#validators', `<p>${v.finalized_height != null ? `Newest finalization this node holds: block ${esc(v.finalized_height)}, ${esc(time(v.finalized_time_ms))}, signed by ${esc(v.signers)} (quorum ${esc(v.quorum)}).` : 'No finalization yet.'}</p>
        <table id="validators-table"><tr><th>#</th><th>Member</th><th class="hide-narrow">Key</th><th class="hide-narrow">API</th><th>Latest finalization</th></tr>
        ${v.validators.map((x) => `<tr id="validator-${esc(x.index)}"><td>${esc(x.index)}${x.this_node ? ' (this node)' : ''}</td><td>${esc(x.member)}</td><td class="mono hide-narrow">${esc(String(x.public_key).slice(0, 16))}…</td>
          <td class="mono hide-narrow">${esc(x.api_address)}</td><td>${x.signed_latest == null ? '—' : x.signed_latest ? badge('signed', 'ok') : badge('missing', 'bad')}</td></tr>`).join('')}</table>`);
    } catch (e) {
      put('#validators', `<div class="result bad">${esc(e.message)}</div>`);
    }
  };
  const s = await stats();
  validators();
  latency();
  if (s) {
    const from = Math.max(1, s.height - 40);
    const recent = await Promise.all(Array.from({ length: s.height - from + 1 }, (_, i) => api('GET', `/v1/blocks/${from + i}`).catch(() => null)));
    recent.filter(Boolean).forEach(addBlock);
  }
  const timer = setInterval(() => {
    if (!$('#node-stats')) { clearInterval(timer); return; }
    stats();
    validators();
    latency();
  }, 3000);
  follow('types=block', (kind, envelope) => { if (kind === 'block') addBlock(envelope.event); });
  const search = async (text) => {
    $('#search').value = text;
    const out = $('#search-result');
    out.innerHTML = '<div class="card">Searching…</div>';
    try { out.innerHTML = `<div class="card">${await lookUp(text.trim())}</div>`; } catch (e) { out.innerHTML = `<div class="card result bad">${esc(e.message)}</div>`; }
  };
  $('#search-go').onclick = () => search($('#search').value);
  $('#search').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') search($('#search').value); });
}

/** Finds what a search text names: bill, claim, transaction, block or patient. */
async function lookUp(text) {
  if (/^\d{8}\/\d{1,10}$/.test(text)) {
    const [code, number] = text.split('/');
    const bill = await api('GET', `/v1/bills/${code}/${number.padStart(10, '0')}`);
    return `<h2>Bill</h2>${billHeader(bill)}<p>Claims: ${bill.claims.map((c) => `<span class="mono">${esc(c)}</span>`).join(', ') || 'none'}</p>`;
  }
  if (/^\d{1,12}$/.test(text)) {
    const block = await api('GET', `/v1/blocks/${text}/transactions`);
    return `<h2>Block ${esc(block.height)}</h2><dl class="kv"><dt>Digest</dt><dd class="mono">${esc(block.digest)}</dd><dt>Parent</dt><dd class="mono">${esc(block.parent)}</dd>
      <dt>Time</dt><dd>${esc(time(block.timestamp_ms))}</dd><dt>State root</dt><dd class="mono">${esc(block.state_root)} (after block ${esc(block.executed_height)})</dd></dl>
      <div class="table-wrap"><table><tr><th>Transaction</th><th>Type</th><th>Outcome</th></tr>${block.txs.map((tx, i) => {
        const outcome = block.receipts[i].outcome;
        return `<tr><td class="mono">${esc(block.receipts[i].tx_id)}</td><td>${esc(tx.body?.payload?.type ?? '')}</td><td>${outcome.accepted ? badge(outcome.accepted.effect ?? 'accepted', 'accepted') : badge(outcome.rejected.code, 'rejected')}</td></tr>`;
      }).join('') || '<tr><td colspan="3" class="muted">No transactions</td></tr>'}</table></div>`;
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    const tx = await api('GET', `/v1/txs/${text.toLowerCase()}`);
    const outcome = tx.committed?.receipt.outcome;
    return `<h2>Transaction</h2><dl class="kv"><dt>Id</dt><dd class="mono">${esc(tx.tx_id)}</dd><dt>Status</dt><dd>${badge(tx.status)}</dd>
      ${tx.committed ? `<dt>Block</dt><dd>${esc(tx.committed.height)} (position ${esc(tx.committed.index)})</dd><dt>Outcome</dt><dd>${outcome.accepted ? badge('accepted') + ' ' + esc(JSON.stringify(outcome.accepted)) : badge('rejected') + ' ' + esc(describeRejection(outcome.rejected)) + ` (${esc(outcome.rejected.code)})`}</dd>` : ''}</dl>`;
  }
  if (/^[0-9a-fA-F]{32}$/.test(text)) {
    const id = text.toLowerCase();
    try {
      const claim = await api('GET', `/v1/claims/${id}`);
      return `<h2>Claim</h2><dl class="kv"><dt>Id</dt><dd class="mono">${esc(id)}</dd><dt>Payer</dt><dd>${esc(claim.submission.payer)}</dd><dt>Patient</dt><dd class="mono">${esc(claim.submission.patient)}</dd>
        <dt>Bills</dt><dd>${claim.submission.items.map((i) => `${esc(i.bill)}: ${yuan(i.amount)}`).join('<br>')}</dd><dt>Status</dt><dd>${badge(claimStatus(claim))} ${esc(claim.status.reason ?? claim.status.payment_reference ?? '')}</dd></dl>`;
    } catch (e) {
      if (e.code !== 'unknown_claim') throw e;
    }
    const page = await api('GET', `/v1/patients/${id}/bills?limit=20`);
    if (!page.items.length) throw new Error(`no claim, and no patient with bills, is ${id}`);
    return `<h2>Patient ${esc(id)}</h2><p>${page.items.map((b) => `<span class="mono">${esc(billId(b))}</span> ${badge(billStatus(b))}`).join('<br>')}</p>`;
  }
  throw new Error('search by bill (CODE/NUMBER), claim id or pseudonym (32 hex digits), transaction id (64 hex digits) or block height');
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

function verifyPage() {
  view().innerHTML = `
    <h1>Verify a receipt</h1>
    <div class="card">
      <p>Paste a receipt (its QR text <code>ML1*…</code>, hex, or the JSON of <code>…/proof</code>) or choose the receipt file. It is checked against this network's validators: the record, its proof to the state root, the finalized block and the validators' signatures.</p>
      <label>Receipt<textarea id="receipt-text" spellcheck="false"></textarea></label>
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
    const check = await api('POST', '/v1/receipts/verify', { body, headers: { 'content-type': text ? 'text/plain' : 'application/octet-stream' } });
    const out = $('#verify-result');
    if (check.valid) {
      out.className = 'result ok';
      const bill = check.bill;
      const claim = check.claim;
      out.innerHTML = `<b id="verify-verdict">Valid.</b> ${esc(check.subject)} on chain ${esc(check.chain_id)}, as of block ${esc(check.as_of_height)}, finalized in block ${esc(check.block_height)} (${esc(time(check.block_time_ms))}), signed by ${esc(check.signers)} validators.
        ${bill ? `<br>Patient paid ${yuan(bill.issue.amounts.patient_pay)}, reimbursed ${yuan(bill.reimbursed)}, ${billStatus(bill)}.` : ''}
        ${claim ? `<br>Claim ${badge(claimStatus(claim))} for ${yuan(claimTotal(claim))}.` : ''}`;
    } else {
      out.className = 'result bad';
      out.innerHTML = `<b id="verify-verdict">Not valid.</b> ${esc(check.subject ?? '')} ${esc(check.reason)}`;
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
    el.textContent = `node unreachable (${e.code ?? 'error'})`;
  }
}

window.addEventListener('hashchange', route);
statusLine();
setInterval(statusLine, 3000);
route();
