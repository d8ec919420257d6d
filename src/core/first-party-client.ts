// Accord's own portal (admin consent, My apps, the admin centre) signs people in as this static,
// first-party client: it asks only for `openid` and never shows a consent page.
export const FIRST_PARTY_CLIENT_ID = 'accord-portal';
