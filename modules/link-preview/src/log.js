// Structured logs: one JSON object per line on stderr, like the Python modules' JSON logs,
// with the command's ids on every line of its work.

const ORDER = { debug: 10, info: 20, warning: 30, error: 40 };

export function createLogger(level = "info", stream = process.stderr) {
  const threshold = ORDER[level] ?? ORDER.info;

  function write(lvl, event, fields) {
    if (ORDER[lvl] < threshold) return;
    const line = {
      timestamp: new Date().toISOString(),
      level: lvl,
      logger: "quark.link-preview",
      event,
      ...fields,
    };
    stream.write(`${JSON.stringify(line)}\n`);
  }

  const bind = (bound) => ({
    debug: (event, fields = {}) => write("debug", event, { ...bound, ...fields }),
    info: (event, fields = {}) => write("info", event, { ...bound, ...fields }),
    warning: (event, fields = {}) => write("warning", event, { ...bound, ...fields }),
    error: (event, fields = {}) => write("error", event, { ...bound, ...fields }),
    bind: (more) => bind({ ...bound, ...more }),
  });
  return bind({});
}
