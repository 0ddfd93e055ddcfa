import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import { ProcessModel } from '../processes/process.models.js';
import { DecodedCapabilitiesModel, ProcessSecurityModel } from './security.models.js';
import { SecurityService } from './security.service.js';

@Resolver()
export class SecurityResolver {
  constructor(private readonly security: SecurityService) {}

  @Query(() => DecodedCapabilitiesModel, { description: 'What capsh --decode prints for a mask' })
  @Allow('viewer')
  decodeCapabilities(@Args('mask') mask: string): DecodedCapabilitiesModel {
    return this.security.decode(mask);
  }
}

/** The edge process → security posture, contributed to the Process type from here. */
@Resolver(() => ProcessModel)
export class ProcessSecurityResolver {
  constructor(private readonly service: SecurityService) {}

  @ResolveField(() => ProcessSecurityModel, { description: 'seccomp, capabilities, LSM, user namespace: what is in force now' })
  @Allow('viewer')
  security(@Parent() process: ProcessModel): ProcessSecurityModel {
    return this.service.processSecurity(process.pid);
  }
}
