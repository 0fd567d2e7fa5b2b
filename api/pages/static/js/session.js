// The signed-in API key, kept in the `wearstream_token` cookie: the API reads it from there on websockets,
// and these pages send it as `Authorization: Bearer …` on every REST call.

export const COOKIE = "wearstream_token";
const KEY_PATTERN = /^wsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;
const MAX_AGE_S = 30 * 86_400;

export function token() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return value.join("=") || null;
  }
  return null;
}

/** Whether `text` has the shape of a wearstream key (`wsk_<key id>_<secret>`). */
export function looksLikeKey(text) {
  return KEY_PATTERN.test(text.trim());
}

export function signIn(key) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${COOKIE}=${key.trim()}; Path=/; Max-Age=${MAX_AGE_S}; SameSite=Strict${secure}`;
}

export function signOut() {
  document.cookie = `${COOKIE}=; Path=/; Max-Age=0; SameSite=Strict`;
}

/** Why the user was sent back to the sign-in form (shown there once). */
let notice = "";

export function expire(message) {
  signOut();
  notice = message;
}

export function takeNotice() {
  const text = notice;
  notice = "";
  return text;
}
