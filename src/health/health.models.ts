import { ApiProperty } from '@nestjs/swagger';

export class LivenessModel {
  @ApiProperty({ enum: ['ok'] }) status: 'ok';
}

export class DependencyCheckModel {
  @ApiProperty({ enum: ['ok', 'failed', 'unavailable'] }) status: 'ok' | 'failed' | 'unavailable';
  @ApiProperty({ description: 'whether readiness needs it (the Docker Engine does not)' }) required: boolean;
  @ApiProperty() detail: string;
}

export class ReadinessChecksModel {
  @ApiProperty({ type: DependencyCheckModel }) procfs: DependencyCheckModel;
  @ApiProperty({ type: DependencyCheckModel }) cgroupfs: DependencyCheckModel;
  @ApiProperty({ type: DependencyCheckModel }) stateDir: DependencyCheckModel;
  @ApiProperty({ type: DependencyCheckModel }) audit: DependencyCheckModel;
  @ApiProperty({ type: DependencyCheckModel }) docker: DependencyCheckModel;
}

export class ReadinessModel {
  @ApiProperty({ enum: ['ready', 'not ready'] }) status: 'ready' | 'not ready';
  @ApiProperty({ type: ReadinessChecksModel }) checks: ReadinessChecksModel;
}
