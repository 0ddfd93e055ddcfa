// Types for kernel-cases.mjs: the host imports the case names to declare one test per case.
export declare const CONTROLLERS: string[];
export declare const cases: Array<{ name: string; run: (detail: Record<string, unknown>) => Promise<void> }>;
export declare function cleanupKernelCases(): void;
