import { statSync } from 'node:fs';
import { LongrunError, type ExecRequest, type SandboxSpec } from '@longrun/core';

/** Bad specs and requests fail here, before anything is spawned, with a message that says why. */
export function validateSpec(spec: SandboxSpec): void {
  let isDir = false;
  try {
    isDir = statSync(spec.workspaceDir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) invalid(`workspaceDir ${spec.workspaceDir} is not an existing directory`);
  const { memoryBytes, pids, cpuCores, workspaceBytes } = spec.limits;
  if (!(Number.isSafeInteger(memoryBytes) && memoryBytes >= 16 * 1024 * 1024)) {
    invalid('limits.memoryBytes must be an integer of at least 16 MiB');
  }
  if (!(Number.isSafeInteger(pids) && pids >= 4)) invalid('limits.pids must be an integer ≥ 4');
  if (!(cpuCores > 0 && cpuCores <= 1024)) invalid('limits.cpuCores must be in (0, 1024]');
  if (!(Number.isSafeInteger(workspaceBytes) && workspaceBytes >= 1024 * 1024)) {
    invalid('limits.workspaceBytes must be an integer of at least 1 MiB');
  }
  if (spec.network !== 'none' && spec.network !== 'allowed') {
    invalid(`network must be 'none' or 'allowed'`);
  }
  const writable: unknown = spec.writableDirs;
  if (
    writable !== undefined &&
    !(Array.isArray(writable) && writable.every((d) => typeof d === 'string' && d !== ''))
  )
    invalid('writableDirs must be a list of workspace-relative directories');
  for (const [name, value] of Object.entries(spec.env)) checkEnv(name, value);
}

export function validateRequest(request: ExecRequest): void {
  const argv: unknown = request.argv;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((arg) => typeof arg === 'string')) {
    invalid('argv must be a non-empty array of strings (a shell only as ["/bin/sh", "-c", cmd])');
  }
  if (request.argv.some((arg) => arg.includes('\0'))) invalid('argv must not contain NUL bytes');
  if (!(Number.isFinite(request.timeoutMs) && request.timeoutMs > 0)) {
    invalid('timeoutMs must be a positive number');
  }
  if (!(Number.isSafeInteger(request.maxOutputBytes) && request.maxOutputBytes >= 0)) {
    invalid('maxOutputBytes must be a non-negative integer');
  }
  for (const [name, value] of Object.entries(request.env ?? {})) checkEnv(name, value);
}

function checkEnv(name: string, value: unknown): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    invalid(`env name ${JSON.stringify(name)} is not valid`);
  if (typeof value !== 'string' || value.includes('\0')) {
    invalid(`env ${name} must be a string without NUL bytes`);
  }
}

function invalid(message: string): never {
  throw new LongrunError('INVALID_ARGUMENT', message);
}
