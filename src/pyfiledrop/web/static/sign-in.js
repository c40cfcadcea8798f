// The sign-in page: its texts, in the browser's language, from the same catalogue as the page.
import { t } from "./text.js";  // which also sets the page's lang

for (const element of document.querySelectorAll("[data-text]")) {
  if (element.dataset.text) element.textContent = t(element.dataset.text);
}
