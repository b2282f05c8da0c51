// 政策计算器: asks only the facts `partial` still needs, a few at a time, then shows the decision.
// Every text from the server is set with textContent: nothing received is parsed as HTML.
"use strict";

const AT_ONCE = 3;  // questions asked together
const el = (id) => document.getElementById(id);
const answers = {};
let policy = null;
let asking = 0;  // the latest question round: an answer to an earlier one is dropped

function make(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

function showProblems(error) {
  const box = el("problems");
  box.replaceChildren();
  if (!error) return;
  box.append(make("div", error.message));
  for (const p of error.problems || []) box.append(make("div", p));
}

const WORDS = { ">=": "不低于", ">": "大于", "<=": "不超过", "<": "小于" };

// An input typed by the fact's declaration: yes/no, choices, a date, a number with unit and bounds.
function inputFor(q) {
  const id = "fact-" + q.name;
  const wrap = make("div");
  wrap.dataset.fact = q.name;
  const label = make("label", q.label, "q");
  label.htmlFor = id;
  wrap.append(label);
  if (q.kind === "bool") {
    const select = make("select");
    select.id = id;
    select.append(make("option", "请选择"));
    select.options[0].value = "";
    for (const [value, text] of [["true", "是"], ["false", "否"]]) {
      const option = make("option", text);
      option.value = value;
      select.append(option);
    }
    wrap.append(select);
  } else if (q.kind === "enum" || q.kind === "roles") {
    const select = make("select");
    select.id = id;
    select.multiple = q.kind === "roles";
    if (!select.multiple) {
      select.append(make("option", "请选择"));
      select.options[0].value = "";
    }
    for (const m of q.members) {
      const option = make("option", m.label);
      option.value = m.value;
      select.append(option);
    }
    wrap.append(select);
  } else if (q.kind === "date") {
    const input = make("input");
    input.type = "date";
    input.id = id;
    wrap.append(input);
  } else if (q.kind === "text") {
    const input = make("input");
    input.type = "text";
    input.id = id;
    wrap.append(input);
  } else {
    const input = make("input");
    input.type = "text";
    input.inputMode = "decimal";
    input.id = id;
    wrap.append(input);
    const hints = [];
    if (q.unit) hints.push("单位：" + q.unit + (q.kind === "money" ? "（可写 58万）" : ""));
    if (q.kind === "percent") hints.push("写成 60% 或 0.6");
    for (const b of q.bounds) hints.push((WORDS[b.op] || b.op) + " " + b.value);
    if (hints.length) wrap.append(make("span", " " + hints.join("，"), "hint"));
  }
  return wrap;
}

function valueOf(q) {
  const node = el("fact-" + q.name);
  if (q.kind === "roles") return Array.from(node.selectedOptions).map((o) => o.value);
  if (q.kind === "bool") return node.value === "" ? "" : node.value === "true";
  return node.value.trim();
}

async function step() {
  const body = { facts: answers };
  if (el("date").value) body.date = el("date").value;
  const round = ++asking;
  // nothing from before the change stays on screen while the new answer is on its way
  el("result").hidden = true;
  el("questions").replaceChildren();
  const answer = await post(`/api/policies/${encodeURIComponent(policy)}/partial`, body);
  if (round !== asking) return;
  if (answer.error) { showProblems(answer.error); return; }
  showProblems(null);
  const form = el("questions");
  form.replaceChildren();
  if (answer.decided) { showResult(answer.decision); return; }
  el("result").hidden = true;
  const asked = answer.needed.slice(0, AT_ONCE);
  const group = make("fieldset");
  group.append(make("legend", "请回答"));
  for (const q of asked) group.append(inputFor(q));
  const next = make("button", "下一步");
  next.type = "submit";
  group.append(next);
  form.append(group);
  form.onsubmit = (event) => {
    event.preventDefault();
    for (const q of asked) {
      const value = valueOf(q);
      if (value !== "" && !(Array.isArray(value) && value.length === 0)) answers[q.name] = value;
    }
    step();
  };
}

function showResult(decision) {
  const box = el("result");
  box.replaceChildren();
  box.hidden = false;
  box.append(make("h2", decision.policy));
  const total = decision.total;
  box.append(make("p", "合计：" + describe(total), "amount"));
  box.querySelector(".amount").dataset.amount = total.amount === null ? "" : total.amount;
  for (const f of decision.eligibility_failures) box.append(make("p", "不符合申报条件：" + f));
  for (const m of decision.measures) {
    const part = make("div");
    part.dataset.measure = m.measure;
    part.append(make("h3", m.label + (m.cite ? "（" + m.cite + "）" : "") + "：" + describe(m)));
    const list = make("ul");
    for (const line of [...m.explanation, ...m.reasons.map((r) => "原因：" + r)]) list.append(make("li", line));
    part.append(list);
    box.append(part);
  }
  if (decision.payment_forms_note) box.append(make("p", "注意：" + decision.payment_forms_note));
  if (decision.citations.length) box.append(make("p", "依据条款：" + decision.citations.join("、"), "hint"));
}

const STATUS = { determined: "确定金额", ceiling: "最高", undetermined: "金额未定", ineligible: "不符合" };

function describe(m) {
  if (m.amount === null || m.status === "ineligible") return STATUS[m.status] || m.status;
  return (STATUS[m.status] || m.status) + " " + m.amount + " 元";
}

async function start() {
  el("date").value = new Date().toISOString().slice(0, 10);
  const list = await (await fetch("/api/policies")).json();
  const select = el("policy");
  for (const p of list.policies) {
    const option = make("option", p.title);
    option.value = p.name;
    select.append(option);
  }
  const restart = () => {
    policy = select.value;
    for (const key of Object.keys(answers)) delete answers[key];
    step();
  };
  select.onchange = restart;
  el("date").onchange = step;
  if (list.policies.length) restart();
}

start();
