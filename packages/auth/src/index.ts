export { authenticate, challengeHeader, credentialsOf, type Credentials } from './basic.js';
export { hashPassword, parseSecret } from './password.js';
export { parseUserEntries, parseUsers, UserTable } from './users.js';
