// The time as Accord's own rules read it: grant expiry, review dates and last use. One clock is
// handed down from buildApp, so that tests move time forward instead of sleeping.

/** The current time. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
