// The sample data behind the data API: a user's profile, calendar, files and sent mail, and the
// sites of their tenant. Which token may reach which rows is the route's check (scopes, owner);
// here every read and write is already scoped to one tenant and, but for sites, one user.
import { InvalidRequest, NotFound } from '../core/errors.js';
import * as calendarEvents from '../db/calendar-events.js';
import * as driveFiles from '../db/drive-files.js';
import type { Pool } from '../db/pool.js';
import { insertSentMail } from '../db/sent-mail.js';
import { listSiteItems } from '../db/site-items.js';
import { findSite } from '../db/sites.js';
import { findUserInTenant } from '../db/users.js';

/** `limit` rows from `offset`. */
export interface Page {
  limit: number;
  offset: number;
}

/** Whose rows: a user of a tenant. */
export interface Owner {
  tenantId: string;
  userId: string;
}

export class SampleData {
  constructor(private readonly pool: Pool) {}

  /** A user of the tenant; one of another tenant is not found, as if absent. */
  async user(tenantId: string, userId: string) {
    const user = await findUserInTenant(this.pool, tenantId, userId);
    if (!user) throw NotFound('user not found');
    return user;
  }

  /** In start order. */
  calendarEvents(owner: Owner, page: Page) {
    return calendarEvents.listCalendarEvents(this.pool, owner.tenantId, owner.userId, page);
  }

  async calendarEvent(owner: Owner, id: string) {
    const event = await calendarEvents.findCalendarEvent(this.pool, owner.tenantId, owner.userId, id);
    if (!event) throw NotFound('event not found');
    return event;
  }

  /** `start` and `end` are RFC 3339 date-times; the event may not end before it starts. */
  addCalendarEvent(
    owner: Owner,
    event: { subject: string; body: string; location: string | null; start: string; end: string },
  ) {
    if (Date.parse(event.end) < Date.parse(event.start))
      throw InvalidRequest('body.end must not be before body.start', { field: 'body.end' });
    return calendarEvents.insertCalendarEvent(this.pool, owner.tenantId, owner.userId, event);
  }

  async deleteCalendarEvent(owner: Owner, id: string): Promise<void> {
    if (!(await calendarEvents.deleteCalendarEvent(this.pool, owner.tenantId, owner.userId, id)))
      throw NotFound('event not found');
  }

  /** Metadata only, by name. */
  driveFiles(owner: Owner, page: Page) {
    return driveFiles.listDriveFiles(this.pool, owner.tenantId, owner.userId, page);
  }

  async driveFile(owner: Owner, id: string) {
    const file = await driveFiles.findDriveFile(this.pool, owner.tenantId, owner.userId, id);
    if (!file) throw NotFound('file not found');
    return file;
  }

  addDriveFile(owner: Owner, file: { name: string; contentType: string; content: string }) {
    return driveFiles.insertDriveFile(this.pool, owner.tenantId, owner.userId, file);
  }

  async deleteDriveFile(owner: Owner, id: string): Promise<void> {
    if (!(await driveFiles.deleteDriveFile(this.pool, owner.tenantId, owner.userId, id)))
      throw NotFound('file not found');
  }

  /** Stored as the user's sent item, delivered nowhere. */
  async sendMail(
    owner: Owner,
    mail: { clientId: string; recipients: string[]; subject: string; body: string },
  ): Promise<void> {
    await insertSentMail(this.pool, owner.tenantId, owner.userId, mail);
  }

  /** Oldest first; an unknown site (or one of another tenant) is not found. */
  async siteItems(tenantId: string, siteId: string, page: Page) {
    if (!(await findSite(this.pool, tenantId, siteId))) throw NotFound('site not found');
    return listSiteItems(this.pool, tenantId, siteId, page);
  }
}
