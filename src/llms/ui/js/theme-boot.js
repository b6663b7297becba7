// Loaded before the styles (a classic script, not a module): applies the saved theme at once, so a
// page set to dark does not flash light while the app's modules load.
try {
  const mode = localStorage.getItem('llms.theme');
  if (mode === 'light' || mode === 'dark') document.documentElement.dataset.theme = mode;
} catch {
  /* storage disabled: follow the system */
}
