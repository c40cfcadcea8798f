--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_table_access_method = heap;

--
-- Name: chunks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.chunks (
    upload_id text NOT NULL,
    idx integer NOT NULL
);


--
-- Name: claims; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.claims (
    name text NOT NULL,
    upload_id text,
    holder text NOT NULL,
    instance text NOT NULL,
    expires_at double precision NOT NULL
);


--
-- Name: instances; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.instances (
    id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    seen_at double precision NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at double precision NOT NULL
);


--
-- Name: uploads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.uploads (
    id text NOT NULL,
    client_id text,
    owner text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size bigint,
    chunk_size bigint,
    chunk_count integer,
    received integer DEFAULT 0 NOT NULL,
    state text NOT NULL,
    sha256 text,
    download_token text,
    storage_key text,
    error text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    protocol text DEFAULT 'dropzone'::text NOT NULL,
    stream_offset bigint DEFAULT 0 NOT NULL,
    metadata text,
    concat text,
    rewrites integer DEFAULT 0 NOT NULL
);


--
-- Data for Name: chunks; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.chunks VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 0);
INSERT INTO public.chunks VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 2);
INSERT INTO public.chunks VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 0);
INSERT INTO public.chunks VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1);
INSERT INTO public.chunks VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 2);
INSERT INTO public.chunks VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 0);
INSERT INTO public.chunks VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 1);
INSERT INTO public.chunks VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 2);


--
-- Data for Name: claims; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: instances; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (1, 'uploads', 1796207316.770377);
INSERT INTO public.schema_migrations VALUES (2, 'streams', 1796207316.7754989);
INSERT INTO public.schema_migrations VALUES (3, 'claims', 1796207316.7821133);


--
-- Data for Name: uploads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.uploads VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '0b1c9a52-5a3e-4a61-9d7e-000000000001', 'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo', 'aaaa.bin', 'application/octet-stream', 10, 4, 3, 2, 'receiving', NULL, NULL, NULL, NULL, 1764000000, 1764000000, 'dropzone', 0, NULL, NULL, 0);
INSERT INTO public.uploads VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '0b1c9a52-5a3e-4a61-9d7e-000000000002', 'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo', 'bbbb.bin', 'application/octet-stream', 10, 4, 3, 3, 'complete', 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', 'TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', NULL, 1764000000, 1796207316.8214738, 'dropzone', 0, NULL, NULL, 0);
INSERT INTO public.uploads VALUES ('dddddddddddddddddddddddddddddddd', NULL, 'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo', 'dddd.bin', 'application/octet-stream', 10, 4, 3, 0, 'receiving', NULL, NULL, NULL, NULL, 1764000000, 1796207316.8226156, 'tus', 8, 'filename ZC5iaW4=', NULL, 0);
INSERT INTO public.uploads VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', '0b1c9a52-5a3e-4a61-9d7e-000000000005', 'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo', 'eeee.bin', 'application/octet-stream', 10, 4, 3, 3, 'failed', NULL, NULL, NULL, 'assembled 9 bytes, expected 10', 1764000000, 1796207316.830495, 'dropzone', 0, NULL, NULL, 0);
INSERT INTO public.uploads VALUES ('ffffffffffffffffffffffffffffffff', NULL, 'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo', 'ffff.bin', 'application/octet-stream', 5, 8388608, 1, 0, 'complete', '9999999999999999999999999999999999999999999999999999999999999999', 'PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP', 'ffffffffffffffffffffffffffffffff', NULL, 1764000000, 1796207316.8338187, 'plain', 5, NULL, NULL, 0);


--
-- Name: chunks chunks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chunks
    ADD CONSTRAINT chunks_pkey PRIMARY KEY (upload_id, idx);


--
-- Name: claims claims_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.claims
    ADD CONSTRAINT claims_pkey PRIMARY KEY (name);


--
-- Name: instances instances_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.instances
    ADD CONSTRAINT instances_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: uploads uploads_client_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_client_id_key UNIQUE (client_id);


--
-- Name: uploads uploads_download_token_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_download_token_key UNIQUE (download_token);


--
-- Name: uploads uploads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (id);


--
-- Name: claims_instance; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claims_instance ON public.claims USING btree (instance);


--
-- Name: claims_upload; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claims_upload ON public.claims USING btree (upload_id);


--
-- Name: uploads_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_state ON public.uploads USING btree (state);


--
-- Name: chunks chunks_upload_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chunks
    ADD CONSTRAINT chunks_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.uploads(id) ON DELETE CASCADE;


--
-- Name: claims claims_upload_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.claims
    ADD CONSTRAINT claims_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.uploads(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


