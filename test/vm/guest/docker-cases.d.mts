// Types for docker-cases.mjs, so the host test can import the case names.
export declare const TEST_IMAGE: string;
export declare const dockerCases: Array<{ name: string; run: (t: unknown) => Promise<void> }>;
