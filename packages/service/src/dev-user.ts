/** The development user of every endpoint until `*_USERS` or `USERS_FILE` is set. */
export const DEV_USERS = 'hello:test';
export const DEV_USER = { user: 'hello', password: 'test' } as const;
