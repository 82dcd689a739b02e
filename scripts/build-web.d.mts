// Types of scripts/build-web.mjs for the TypeScript tests that import it.
import type { Server } from 'node:http';

export declare const outDir: string;
export declare function buildWeb(opts?: {
  quiet?: boolean;
}): Promise<{ outDir: string; bytes: number; minBytes: number }>;
export declare function serveWeb(port?: number): Promise<Server>;
