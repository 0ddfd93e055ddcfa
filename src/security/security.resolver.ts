import { Args, Query, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import { DecodedCapabilitiesModel } from './security.models.js';
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
