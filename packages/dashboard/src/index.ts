export { serveDashboard, serveDashboardAsset, type AssetRequest } from './serve-dashboard.ts';
