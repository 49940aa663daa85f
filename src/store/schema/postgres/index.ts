export * from './requests';
export * from './grants';
export * from './audit';
export * from './outbox';
export * from './slack';
export * from './digests';
export * from './people';
export * from './follow-ups';
