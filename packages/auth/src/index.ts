export { authenticate, challengeHeader } from './basic.js';
export { hashPassword } from './password.js';
export { parseUsers, UserTable } from './users.js';
