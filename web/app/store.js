// What the app keeps on this device beyond the service worker's cache: the outbox of
// messages written offline (IndexedDB, so it survives a reload or a closed tab).

const DB = "quark";
let opened = null;

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore("outbox", { keyPath: "id" });
        store.createIndex("user", "user_id");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(mode, fn) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction("outbox", mode);
    const result = fn(tx.objectStore("outbox"));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
}

export const outbox = {
  put: (userId, message) => run("readwrite", (s) => s.put({ ...message, user_id: userId, queued_at: Date.now() })),
  remove: (id) => run("readwrite", (s) => s.delete(id)),
  async all(userId) {
    const rows = (await run("readonly", (s) => s.index("user").getAll(userId))) || [];
    return rows
      .sort((a, b) => a.queued_at - b.queued_at)
      .map(({ user_id: _u, queued_at: _q, ...message }) => message);
  },
};
