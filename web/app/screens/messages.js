// The messenger: /messages is the list of my conversations; /messages/{id} one of them,
// with the list beside it on a wide screen (on a phone the conversation alone, with a way
// back). Split by flow into screens/messages/: the list, starting a conversation, one
// conversation, one message, the composer, a group's settings, finding people.

import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { conversationView } from "./messages/conversation.js";
import { conversationList } from "./messages/list.js";

export default async function messages(container, params) {
  const id = params.conversation_id || null;
  const listPane = h("div", { class: "chat-list-pane" });
  const mainPane = h("div", { class: "chat-main-pane" });
  clear(container, h("div", { class: `messenger${id ? " open" : ""}` }, listPane, mainPane));
  // One h1 per screen: the conversation's title when one is open, else "Messages".
  const cleanups = [await conversationList(listPane, { current: id, heading: id ? "h2" : "h1" })];
  if (id) cleanups.push(await conversationView(mainPane, id, { panel: params.query.panel === "settings" }));
  else mainPane.append(h("p", { class: "empty" }, t("chat.pick")));
  return () => cleanups.forEach((fn) => fn && fn());
}
