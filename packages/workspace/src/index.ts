export {
  blobHashesOf,
  chunksOfFile,
  comparePaths,
  createManifest,
  encodeManifest,
  manifestTotals,
  manifestVersion,
  serializeManifest,
  type ChunkRef,
  type DirEntry,
  type FileEntry,
  type Manifest,
  type ManifestEntry,
  type ManifestTotals,
  type SymlinkEntry,
} from './manifest.ts';
export { parseManifest } from './parse-manifest.ts';
export { defaultChunking, type ChunkingParameters } from './content-defined-chunking.ts';
export { loadManifest } from './load-manifest.ts';
export { StatCache, type StatCacheOptions } from './stat-cache.ts';
export {
  snapshotWorkspace,
  type SnapshotResult,
  type SnapshotWorkspaceOptions,
} from './snapshot-workspace.ts';
export {
  restoreWorkspace,
  type RestoreResult,
  type RestoreWorkspaceOptions,
} from './restore-workspace.ts';
export {
  verifyWorkspace,
  type DifferenceKind,
  type WorkspaceDifference,
} from './verify-workspace.ts';
export {
  countChanges,
  diffManifests,
  type ManifestDiff,
  type PathChange,
} from './diff-manifests.ts';
export {
  unifiedDiff,
  type NoTextDiffReason,
  type UnifiedDiffOptions,
  type UnifiedDiffResult,
} from './text-diff.ts';
export {
  applyWorkspaceEdits,
  defaultEditMode,
  findWorkspaceEdits,
  loadWorkspaceState,
  type FindWorkspaceEditsOptions,
  type FoundEdits,
  type WholeFileHasher,
} from './workspace-edits.ts';
export { forkWorkspace, type ForkWorkspaceOptions } from './fork-workspace.ts';
export { DirectoryBlobStore, type DirectoryBlobStoreOptions } from './directory-blob-store.ts';
export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.ts';
export type { SkippedPath } from './scan-workspace.ts';
export { sha256Hex } from './hashing.ts';
export {
  ConfinedWorkspaceFiles,
  defaultMaxReadBytes,
  type FileWriter,
} from './confined-workspace-files.ts';
export { copyIntoWorkspace } from './copy-into-workspace.ts';
export { workspacePathParts, type Owner } from './confined-fs.ts';
