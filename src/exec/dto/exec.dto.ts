import { Field, InputType, Int } from '@nestjs/graphql';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { IsArray, IsBoolean, IsInt, IsObject, IsOptional, IsString, ValidateBy } from 'class-validator';
import { Int64Scalar } from '../../common/scalars/int64.scalar.js';
import { JsonScalar } from '../../common/scalars/json.scalar.js';

/*
 * The outline of exec and sandbox requests, for documentation and the schema. Each value is
 * checked by the kernel layer (argv count and size, namespaces, timeouts, output caps, cwd and
 * arguments never under /proc/<pid>/fd or cwd, env names, uid/gid), which refuses unknown fields.
 */

const USER_FORMS = 'numbers only: REST takes 1000, "1000", "1000:1000" or {uid, gid?, groups?}; GraphQL the object';

/**
 * The outline of `user` on REST: a number, a string or an object. Which numbers and strings
 * (uid, "uid", "uid:gid", never a name) is the kernel layer's `validateUser`, for every form alike.
 */
function IsExecUser(): PropertyDecorator {
  return ValidateBy({
    name: 'isExecUser',
    validator: {
      validate: (v: unknown) => typeof v === 'number' || typeof v === 'string' || (typeof v === 'object' && v !== null && !Array.isArray(v)),
      defaultMessage: () => 'user must be a uid, "uid:gid" or {uid, gid, groups}',
    },
  });
}

@InputType('ExecUserInput')
export class ExecUserInput {
  @Field(() => Int) @ApiProperty() @IsInt() uid: number;
  @Field(() => Int, { nullable: true }) @ApiPropertyOptional() @IsOptional() @IsInt() gid?: number;
  @Field(() => [Int], { nullable: true }) @ApiPropertyOptional({ type: [Number] }) @IsOptional() @IsArray() groups?: number[];
}

@InputType('ExecInput')
@ApiExtraModels(ExecUserInput)
export class ExecBody {
  @Field(() => [String], { description: 'the command and its arguments; no shell' })
  @ApiProperty({ type: [String], example: ['ps', 'aux'] })
  @IsArray()
  argv: string[];

  @Field(() => [String], { nullable: true, description: 'default: mnt uts ipc net pid (a container: every one it does not share with the host)' })
  @ApiPropertyOptional({ type: [String], example: ['mnt', 'uts', 'ipc', 'net', 'pid'] })
  @IsOptional()
  @IsArray()
  namespaces?: string[];

  @Field(() => Int, { nullable: true, description: 'default 10000, at most 600000; the whole process tree is killed then' })
  @ApiPropertyOptional({ example: 5000 })
  @IsOptional()
  @IsInt()
  timeoutMs?: number;

  @Field(() => Int64Scalar, { nullable: true, description: 'per stream; default 1 MiB, at most 16 MiB; past it the command is killed and truncated is true' })
  @ApiPropertyOptional({ example: 1048576 })
  @IsOptional()
  @IsInt()
  maxOutputBytes?: number;

  @Field(() => ExecUserInput, { nullable: true, description: USER_FORMS })
  @ApiPropertyOptional({ oneOf: [{ type: 'integer' }, { type: 'string', example: '1000:1000' }, { $ref: getSchemaPath(ExecUserInput) }], description: USER_FORMS })
  @IsOptional()
  @IsExecUser()
  user?: ExecUserInput | number | string;

  @Field(() => String, { nullable: true })
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  cwd?: string;

  @Field(() => JsonScalar, { nullable: true, description: 'variables for the command; default none but PATH' })
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  env?: Record<string, string>;

  @Field(() => String, { nullable: true })
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  stdin?: string;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "default false: the command runs with the target's confinement (ids, capabilities, no_new_privs, LSM label, seccomp filters, rlimits, oom_score_adj, cgroups), as docker exec does. true (admin): host root with every capability in the target's namespaces, nsenter's semantics: a binary the container planted where the command is looked up then runs as host root; use it only to debug what the target itself cannot do.",
  })
  @ApiPropertyOptional({ default: false, description: "false: the target's confinement (the default). true: host root with every capability in the target's namespaces (nsenter): dangerous, a program the container controls runs with the host's full privileges" })
  @IsOptional()
  @IsBoolean()
  privileged?: boolean;
}

@InputType('SandboxInput')
@ApiExtraModels(ExecUserInput)
export class SandboxBody {
  @Field(() => [String]) @ApiProperty({ type: [String], example: ['ps'] }) @IsArray() argv: string[];
  @Field(() => [String], { nullable: true, description: 'new namespaces; default pid mnt uts ipc net' }) @ApiPropertyOptional({ type: [String] }) @IsOptional() @IsArray() namespaces?: string[];
  @Field(() => JsonScalar, { nullable: true, description: 'the cgroup vocabulary, e.g. {"memory": {"max": "64M"}, "pids": {"max": 32}}' }) @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { memory: { max: '64M' } } }) @IsOptional() @IsObject() limits?: Record<string, unknown>;
  @Field(() => String, { nullable: true }) @ApiPropertyOptional() @IsOptional() @IsString() rootfs?: string;
  @Field(() => String, { nullable: true }) @ApiPropertyOptional() @IsOptional() @IsString() hostname?: string;
  @Field(() => [String], { nullable: true, description: 'capabilities kept; default none' }) @ApiPropertyOptional({ type: [String] }) @IsOptional() @IsArray() capabilities?: string[];
  @Field(() => Boolean, { nullable: true, description: 'default true' }) @ApiPropertyOptional() @IsOptional() noNewPrivs?: boolean;
  @Field(() => Boolean, { nullable: true, description: 'default true' }) @ApiPropertyOptional() @IsOptional() readOnlyRoot?: boolean;
  @Field(() => Boolean, { nullable: true, description: 'a user namespace: root inside is an unprivileged host uid (0x70000000..+65535), so host files owned by root are not its own; default false' }) @ApiPropertyOptional({ default: false, description: 'a user namespace mapping 0..65535 inside to 1879048192.. on the host' }) @IsOptional() @IsBoolean() userns?: boolean;
  @Field(() => ExecUserInput, { nullable: true, description: USER_FORMS }) @ApiPropertyOptional({ oneOf: [{ type: 'integer' }, { type: 'string', example: '1000:1000' }, { $ref: getSchemaPath(ExecUserInput) }], description: USER_FORMS }) @IsOptional() @IsExecUser() user?: ExecUserInput | number | string;
  @Field(() => JsonScalar, { nullable: true }) @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } }) @IsOptional() @IsObject() env?: Record<string, string>;
  @Field(() => String, { nullable: true }) @ApiPropertyOptional() @IsOptional() @IsString() stdin?: string;
  @Field(() => Int64Scalar, { nullable: true }) @ApiPropertyOptional() @IsOptional() @IsInt() maxOutputBytes?: number;
  @Field(() => Int, { nullable: true, description: 'killed after this long; default: runs until it ends or is deleted' }) @ApiPropertyOptional() @IsOptional() @IsInt() timeoutMs?: number;
}
