export { discoverRoles, roleClosure, listRoleFiles } from './discover.js';
