import { HttpClient, textOf } from '../http/client';

export interface PostAnswer {
  status: number;
  text: string;
}

/** POSTs to one webhook URL over its own keep-alive pool (see HttpClient). */
export class WebhookPoster {
  private readonly url: URL;
  private readonly client = new HttpClient();

  constructor(url: string) {
    this.url = new URL(url);
  }

  async post(
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<PostAnswer> {
    const answer = await this.client.call(this.url, { method: 'POST', headers, body, signal });
    return { status: answer.status, text: textOf(answer.body) };
  }

  close(): void {
    this.client.close();
  }
}
