// The launcher needs a free port too, so it lives with the runtime; tests import it from the kit.
export { freePort } from '@temps/runtime';
