export { Forwarder, type Outcome, type SubmitResult } from './forwarder.js';
export { Ingress, type Accepted, type IngressDeps, type IngressOutcome, type PublishingClient } from './ingress.js';
export { publishGuard, userGuards, type PublishGuard, type Publisher } from './publish-guard.js';
