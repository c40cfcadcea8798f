// The share page and the delete link's pages: their texts, sizes, dates and counts in the
// browser's language. The server wrote every value as text; this only fills in labels.
import { lang, size, t } from "./text.js";  // which also sets the page's lang

for (const element of document.querySelectorAll("[data-text]")) {
  if (element.dataset.text) element.textContent = t(element.dataset.text);
}
for (const element of document.querySelectorAll("[data-size]")) {
  const bytes = Number(element.dataset.size);
  element.textContent = t("sizeBytes", { size: size(bytes), bytes: bytes.toLocaleString(lang) });
}
const dates = new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short" });
for (const element of document.querySelectorAll("[data-time]")) {
  const moment = new Date(Number(element.dataset.time) * 1000);
  element.dateTime = moment.toISOString();
  element.textContent = dates.format(moment);
}
for (const element of document.querySelectorAll("[data-count]")) {
  element.textContent = t("downloadsLeft", { count: Number(element.dataset.count) });
}
