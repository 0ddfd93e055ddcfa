import { Inject, Injectable } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { decodeCapabilities, formatCapabilityMask, parseCapabilityMask } from '../kernel/capabilities.js';
import { readProcessSecurity } from '../kernel/security.js';
import type { DecodedCapabilitiesModel, ProcessSecurityModel } from './security.models.js';

@Injectable()
export class SecurityService {
  constructor(@Inject(CONFIG) private readonly config: Config) {}

  /** What is in force for a process now, read from /proc (not what was configured). */
  processSecurity(pid: number): ProcessSecurityModel {
    const posture = readProcessSecurity(this.config.procRoot, pid);
    return {
      ...posture,
      userNamespace: { ...posture.userNamespace, inode: posture.userNamespace.inode === null ? null : Number(posture.userNamespace.inode) },
    };
  }

  decode(mask: string): DecodedCapabilitiesModel {
    return { hex: formatCapabilityMask(parseCapabilityMask(mask)), names: decodeCapabilities(mask) };
  }
}
