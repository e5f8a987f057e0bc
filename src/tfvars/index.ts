export { editTfvars, isJsonTfvars, parseHclTfvars, parseJsonTfvars, type PinEdit } from './edit-tfvars.js';
