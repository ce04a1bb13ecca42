// `/`: the home timeline for someone signed in, the public one for a guest.
import * as api from "../api.js";
import { go } from "../router.js";

export default async function home() {
  await go(api.session() ? "/home" : "/public", { replace: true });
}
