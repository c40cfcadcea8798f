// Every text the page shows or reads out, in each language it speaks, and the number formats that
// go with them. The language is the first of the browser's preferred languages that is here
// (navigator.languages, "de-AT" counts as "de"), else English. To add a language, copy `en` and
// translate every entry; a missing entry falls back to English. `{name}` is filled in by `t`;
// `{{name}}` belongs to Dropzone, which fills it in itself.
export const CATALOGUE = {
  en: {
    limits: "Files up to {max}; sent in chunks of {chunk}.",
    limitsParallel: "Files up to {max}; sent in chunks of {chunk}, {count} at a time.",
    dropArea: "Files to upload",
    dropMessage: "Drop files here or click to choose them",
    fileTooBig: "The file is too big ({{filesize}} MiB); the largest allowed is {{maxFilesize}} MiB.",
    responseError: "The server answered {{statusCode}}.",
    uploadCanceled: "Upload cancelled.",
    uploaded: "Uploaded from this browser",
    clear: "Clear",
    clearLabel: "Clear the list of uploads",
    restore: "Show all",
    restoreLabel: "Show every finished upload of this browser that the server keeps",
    restoreFailed: "The list could not be fetched from the server ({reason}).",
    downloadsOff: "Downloads are turned off on this server; the list shows names only.",
    sha256: "SHA-256 {hash}",
    allUploads: "All uploads",
    files: { one: "{count} file", other: "{count} files" },
    waiting: "waiting",
    paused: "paused",
    finishing: "finishing",
    done: "done",
    failed: "failed",
    speed: "{size}/s",
    left: "{time} left",
    seconds: "{n} s",
    minutes: "{n} min",
    hours: "{h} h {m} min",
    pause: "Pause",
    resume: "Resume",
    cancel: "Cancel",
    copyLink: "Copy link",
    copied: "Copied",
    copyFailed: "Not copied",
    pauseAll: "Pause all",
    resumeAll: "Resume all",
    cancelAll: "Cancel all",
    progressOf: "Upload of {name}",
    pauseFile: "Pause {name}",
    resumeFile: "Resume {name}",
    cancelFile: "Cancel {name}",
    copyLinkFile: "Copy link to {name}",
    announceDone: "{name} is uploaded.",
    announceFailed: "{name} failed: {reason}",
    announcePaused: "{name} paused.",
    announceResumed: "{name} resumed.",
    announceCanceled: "{name} cancelled.",
    announceCopied: "Link to {name} copied.",
    announceCopyFailed: "The link to {name} could not be copied.",
    announceOverall: "All uploads: {percent}",
    notRemoved: "{name}: what the server received could not be removed ({reason}).",
    serverAnswered: "The server answered {status}.",
    serverCouldNotFinish: "The server could not finish this file.",
    alreadyExpired: "The file was finished but has already expired.",
    keepEach: "Keep each file",
    keepForever: "for ever",
    keepLongest: "for {time} (the longest this server keeps it)",
    keep1h: "for 1 hour",
    keep1d: "for 1 day",
    keep7d: "for 7 days",
    keep30d: "for 30 days",
    sizeUntil: "{size} · until {date}",
    openUploads: "Anyone who can reach this page can upload here.",
    signedIn: "Uploads here need a password; this browser is signed in.",
    signOut: "Sign out",
    signInNeeded: "Uploads here need a password.",
    password: "Password",
    signIn: "Sign in",
    wrongPassword: "Wrong password.",
    tooManyTries: "Too many wrong passwords; try again in a minute.",
  },
  de: {
    limits: "Dateien bis {max}; gesendet in Teilen zu {chunk}.",
    limitsParallel: "Dateien bis {max}; gesendet in Teilen zu {chunk}, {count} gleichzeitig.",
    dropArea: "Dateien zum Hochladen",
    dropMessage: "Dateien hier ablegen oder klicken, um sie auszuwählen",
    fileTooBig: "Die Datei ist zu groß ({{filesize}} MiB); erlaubt sind höchstens {{maxFilesize}} MiB.",
    responseError: "Der Server antwortete mit {{statusCode}}.",
    uploadCanceled: "Upload abgebrochen.",
    uploaded: "Aus diesem Browser hochgeladen",
    clear: "Leeren",
    clearLabel: "Liste der Uploads leeren",
    restore: "Alle zeigen",
    restoreLabel: "Alle fertigen Uploads dieses Browsers zeigen, die der Server aufbewahrt",
    restoreFailed: "Die Liste konnte nicht vom Server geholt werden ({reason}).",
    downloadsOff: "Downloads sind auf diesem Server ausgeschaltet; die Liste zeigt nur die Namen.",
    sha256: "SHA-256 {hash}",
    allUploads: "Alle Uploads",
    files: { one: "{count} Datei", other: "{count} Dateien" },
    waiting: "wartet",
    paused: "angehalten",
    finishing: "wird abgeschlossen",
    done: "fertig",
    failed: "fehlgeschlagen",
    speed: "{size}/s",
    left: "noch {time}",
    seconds: "{n} s",
    minutes: "{n} min",
    hours: "{h} h {m} min",
    pause: "Anhalten",
    resume: "Fortsetzen",
    cancel: "Abbrechen",
    copyLink: "Link kopieren",
    copied: "Kopiert",
    copyFailed: "Nicht kopiert",
    pauseAll: "Alle anhalten",
    resumeAll: "Alle fortsetzen",
    cancelAll: "Alle abbrechen",
    progressOf: "Upload von {name}",
    pauseFile: "Anhalten: {name}",
    resumeFile: "Fortsetzen: {name}",
    cancelFile: "Abbrechen: {name}",
    copyLinkFile: "Link kopieren: {name}",
    announceDone: "{name} ist hochgeladen.",
    announceFailed: "{name} ist fehlgeschlagen: {reason}",
    announcePaused: "{name} angehalten.",
    announceResumed: "{name} fortgesetzt.",
    announceCanceled: "{name} abgebrochen.",
    announceCopied: "Link zu {name} kopiert.",
    announceCopyFailed: "Der Link zu {name} konnte nicht kopiert werden.",
    announceOverall: "Alle Uploads: {percent}",
    notRemoved: "{name}: Was der Server schon erhalten hat, konnte nicht entfernt werden ({reason}).",
    serverAnswered: "Der Server antwortete mit {status}.",
    serverCouldNotFinish: "Der Server konnte diese Datei nicht fertigstellen.",
    alreadyExpired: "Die Datei wurde fertiggestellt, ist aber schon abgelaufen.",
    keepEach: "Jede Datei behalten",
    keepForever: "für immer",
    keepLongest: "für {time} (das Längste, was dieser Server erlaubt)",
    keep1h: "für 1 Stunde",
    keep1d: "für 1 Tag",
    keep7d: "für 7 Tage",
    keep30d: "für 30 Tage",
    sizeUntil: "{size} · bis {date}",
    openUploads: "Jeder, der diese Seite erreicht, kann hier hochladen.",
    signedIn: "Uploads hier brauchen ein Passwort; dieser Browser ist angemeldet.",
    signOut: "Abmelden",
    signInNeeded: "Uploads hier brauchen ein Passwort.",
    password: "Passwort",
    signIn: "Anmelden",
    wrongPassword: "Falsches Passwort.",
    tooManyTries: "Zu viele falsche Passwörter; bitte in einer Minute noch einmal versuchen.",
  },
};

function pick(preferred) {
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (Object.hasOwn(CATALOGUE, base)) return base;
  }
  return "en";
}

export const lang = pick(navigator.languages || [navigator.language]);
const words = CATALOGUE[lang];
const plurals = new Intl.PluralRules(lang);
const percentFormat = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
const wholeFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 0, useGrouping: false });
const shortFormat = new Intl.NumberFormat(lang, { maximumSignificantDigits: 3, useGrouping: false });

// The text for `key` with each {name} replaced by params[name]; for a plural entry, the form
// that fits params.count.
export function t(key, params = {}) {
  let text = words[key] ?? CATALOGUE.en[key];
  if (typeof text === "object") text = text[plurals.select(params.count)] ?? text.other;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

// Bytes in binary units with up to three significant digits: 977 KiB, 97.7 GiB, 1.5 KiB, 1 MiB.
export function size(bytes) {
  let unit = 0;
  while (bytes >= 1024 && unit < UNITS.length - 1) {
    bytes /= 1024;
    unit++;
  }
  const format = unit === 0 || bytes >= 100 ? wholeFormat : shortFormat;
  return format.format(bytes) + " " + UNITS[unit];
}

// A share (0..1) as a whole percentage, rounded down so that only a finished file shows 100 %.
export function percent(share) {
  return percentFormat.format(Math.floor(100 * share) / 100);
}

// A time left: seconds under a minute and a half, then minutes, then hours and minutes.
export function duration(seconds) {
  const s = Math.ceil(seconds);
  if (s < 90) return t("seconds", { n: s });
  const m = Math.round(s / 60);
  if (m < 90) return t("minutes", { n: m });
  return t("hours", { h: Math.floor(m / 60), m: m % 60 });
}

document.documentElement.lang = lang;
