// Structured logs: one JSON object per line on stderr, like the Python modules' JSON logs,
// each carrying its module and, for a command's work, the command's ids. Lines of level info
// and above are also published on `quark.logs.<module>` (core/logging.py), fire and forget,
// so the hub and `quark logs` follow this module, or one request across modules, with the
// Python ones.

const ORDER = { debug: 10, info: 20, warning: 30, error: 40 };
//: Where log lines go on NATS (core/logging.py LOGS_SUBJECT).
export const LOGS_SUBJECT = "quark.logs";

export function createLogger(level = "info", { module = "station", stream = process.stderr } = {}) {
  const threshold = ORDER[level] ?? ORDER.info;
  let nc = null;

  function write(lvl, event, fields) {
    const line = {
      timestamp: new Date().toISOString(),
      level: lvl,
      logger: `quark.${module}`,
      module,
      pid: process.pid,
      event,
      ...fields,
    };
    const text = JSON.stringify(line);
    if (ORDER[lvl] >= threshold) stream.write(`${text}\n`);
    if (nc !== null && ORDER[lvl] >= ORDER.info) {
      try {
        nc.publish(`${LOGS_SUBJECT}.${module}`, text);
      } catch {
        // NATS away: the line is only lost there; logging never fails the work.
      }
    }
  }

  const bind = (bound) => ({
    debug: (event, fields = {}) => write("debug", event, { ...bound, ...fields }),
    info: (event, fields = {}) => write("info", event, { ...bound, ...fields }),
    warning: (event, fields = {}) => write("warning", event, { ...bound, ...fields }),
    error: (event, fields = {}) => write("error", event, { ...bound, ...fields }),
    bind: (more) => bind({ ...bound, ...more }),
    /** Publish lines on NATS from now on (null: stop). */
    shipTo: (connection) => {
      nc = connection;
    },
  });
  return bind({});
}
