// The page of `headstart serve`: lists the models, sends images or texts to
// /v1/models/{name}/predict, and draws each item's top-k as bars with the verdict.
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];
let files = [];

function headers() {
  const token = $("token").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(response.status + ": " + (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)));
  }
  return body;
}

function chosenModel() {
  return models.find((m) => m.name === $("model").value);
}

function showModel() {
  const model = chosenModel();
  if (!model) return;
  const images = model.modality === "image";
  $("image-input").hidden = !images;
  $("text-input").hidden = images;
  const reject = model.reject ? ` · answers "unknown" above its ${model.reject.score} threshold` : "";
  $("about").textContent = `${model.head} on ${model.encoder.name} · ${model.classes.length} classes${reject}`;
}

async function loadModels() {
  $("error").textContent = "";
  try {
    models = await call("v1/models");
  } catch (error) {
    $("error").textContent = error.message;
    return;
  }
  $("model").replaceChildren(...models.map((m) => new Option(m.name, m.name)));
  showModel();
}

function choose(list) {
  files = Array.from(list).filter((f) => f.type.startsWith("image/") || f.name);
  $("chosen").textContent = files.map((f) => f.name).join(", ");
}

function bar(label, probability) {
  const row = document.createElement("div");
  row.className = "bar";
  const name = document.createElement("span");
  name.textContent = label;
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "fill";
  fill.style.width = (100 * probability).toFixed(1) + "%";
  track.append(fill);
  const value = document.createElement("span");
  value.textContent = (100 * probability).toFixed(1) + "%";
  row.append(name, track, value);
  return row;
}

function draw(results) {
  $("results").replaceChildren(...results.map((result) => {
    const item = document.createElement("section");
    item.className = "item";
    const title = document.createElement("h2");
    title.textContent = result.item;
    const verdict = document.createElement("div");
    verdict.className = "verdict" + (result.unknown ? " unknown" : "");
    verdict.textContent = result.unknown
      ? `unknown (${result.score.name} ${result.score.value.toFixed(3)} > ${result.threshold.toFixed(3)})`
      : "prediction: " + result.prediction;
    item.append(title, verdict, ...result.top.map((t) => bar(t.label, t.probability)));
    return item;
  }));
}

async function predict() {
  const model = chosenModel();
  $("error").textContent = "";
  if (!model) { $("error").textContent = "no model is served"; return; }
  let options;
  if (model.modality === "image") {
    if (!files.length) { $("error").textContent = "choose or drop at least one image"; return; }
    const form = new FormData();
    files.forEach((f) => form.append("files", f, f.name));
    options = { method: "POST", body: form };
  } else {
    const texts = $("texts").value.split("\n").map((t) => t.trim()).filter(Boolean);
    if (!texts.length) { $("error").textContent = "type at least one text"; return; }
    options = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ texts }) };
  }
  try {
    const answer = await call(`v1/models/${encodeURIComponent(model.name)}/predict`, options);
    draw(answer.results);
  } catch (error) {
    $("error").textContent = error.message;
  }
}

$("model").addEventListener("change", showModel);
$("token").addEventListener("change", loadModels);
$("go").addEventListener("click", predict);
$("drop").addEventListener("click", () => $("files").click());
$("files").addEventListener("change", (event) => choose(event.target.files));
$("drop").addEventListener("dragover", (event) => { event.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop").classList.remove("over");
  choose(event.dataTransfer.files);
});
loadModels();
