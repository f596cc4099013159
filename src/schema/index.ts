// Loads every type file, then builds the schema.
import { builder } from './builder.js';
import './errors.js';
import './models.js';
import './video-task.js';
import './generate-video.js';
import './account.js';

export const schema = builder.toSchema({ sortSchema: true });
