// WebKitGTK reports the POSIX locale "C" as navigator.language on machines without a
// configured locale, and Intl (which uPlot calls when it loads) rejects it. Imported first,
// so every later module sees a language Intl accepts.
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(Navigator.prototype, "language", { get: () => "en-US", configurable: true });
  Object.defineProperty(Navigator.prototype, "languages", { get: () => ["en-US"], configurable: true });
}
