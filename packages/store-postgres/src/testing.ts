// @longrun/store-postgres/testing: a private database per test on a real server, for suites that
// need PostgreSQL; they fail instead of skipping under CI=true.
export * from './test-server.ts';
