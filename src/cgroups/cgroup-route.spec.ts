import { describe, expect, it } from 'vitest';
import { cgroupPathOf, rewriteCgroupUrl } from './cgroup-route.js';

describe('rewriteCgroupUrl: a cgroup path in one {path} segment, however it was sent', () => {
  it('folds plain and percent-encoded slashes into the same URL', () => {
    const want = '/v1/cgroups/nsgate%2Fbatch/-/limits?dryRun=true';
    expect(rewriteCgroupUrl('/v1/cgroups/nsgate/batch/-/limits?dryRun=true')).toBe(want);
    expect(rewriteCgroupUrl('/v1/cgroups/nsgate%2Fbatch/-/limits?dryRun=true')).toBe(want);
    expect(rewriteCgroupUrl('/v1/cgroups/nsgate/batch')).toBe('/v1/cgroups/nsgate%2Fbatch');
    expect(rewriteCgroupUrl('/v1/cgroups/nsgate/batch/')).toBe('/v1/cgroups/nsgate%2Fbatch');
  });

  it('splits the action at the last "/-/" followed by one segment only', () => {
    expect(rewriteCgroupUrl('/v1/cgroups/a/-/b/-/freeze')).toBe('/v1/cgroups/a%2F-%2Fb/-/freeze');
    expect(rewriteCgroupUrl('/v1/cgroups/a/-/b/c')).toBe('/v1/cgroups/a%2F-%2Fb%2Fc');
    expect(rewriteCgroupUrl('/v1/cgroups/a/-/')).toBe('/v1/cgroups/a%2F-');
    expect(rewriteCgroupUrl('/v1/cgroups/a%2F-%2Fx')).toBe('/v1/cgroups/a%2F-%2Fx');
  });

  it('names the root by nothing, and leaves every other URL alone', () => {
    expect(rewriteCgroupUrl('/v1/cgroups/')).toBe('/v1/cgroups/%2F');
    expect(rewriteCgroupUrl('/v1/cgroups?under=/nsgate')).toBe('/v1/cgroups?under=/nsgate');
    expect(rewriteCgroupUrl('/v1/containers/a/limits')).toBe('/v1/containers/a/limits');
    // the query string is not part of the path, even when it holds slashes and "/-/"
    expect(rewriteCgroupUrl('/v1/cgroups/a/b?x=/-/kill')).toBe('/v1/cgroups/a%2Fb?x=/-/kill');
  });

  it('reads the decoded parameter with or without its leading slash', () => {
    expect(cgroupPathOf('nsgate/batch')).toBe('/nsgate/batch');
    expect(cgroupPathOf('/nsgate/batch')).toBe('/nsgate/batch');
    expect(cgroupPathOf('/')).toBe('/');
    // traversal and empty segments are kept for the path checks to refuse
    expect(cgroupPathOf('nsgate//x')).toBe('/nsgate//x');
  });
});
