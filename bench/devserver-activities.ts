/** Activities for the dev server benchmark. */
export async function noop(): Promise<void> {}
