import { MemoryEventLog } from '../../src/log/memory';
import { describeEventLogContract } from './contract';

describeEventLogContract('memory', { open: () => Promise.resolve(new MemoryEventLog()) });
